"""Gemini's ``streamGenerateContent?alt=sse`` → OpenAI chat completion chunks.

Each upstream event is a whole ``GenerateContentResponse`` holding what is new since the last one: text pieces,
whole function calls (Gemini never splits one, so a call's arguments go out in one delta), and on the last event
of a candidate its ``finishReason``. ``usageMetadata`` rides on the events; the last one holds the totals. A
candidate's first chunk carries the assistant role; its finish reason goes out as a chunk of its own, and the
usage chunk (``choices: []``) at the end when the client asked for it.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from switchyard.adapters.wire.base import HeldError, StreamState
from switchyard.adapters.wire.gemini.response import (
    IdFactory,
    candidate_parts,
    completion_id,
    error,
    finish_reason,
    new_call_id,
    split_parts,
    usage,
)
from switchyard.adapters.wire.sse import EventSplitter, data_event, data_lines
from switchyard.errors import UpstreamError

INVALID = "upstream_invalid_json"


@dataclass(slots=True)
class _Candidate:
    calls: int = 0
    finished: bool = False


class GeminiStream:
    def __init__(
        self, model: str, include_usage: bool, *, created: int | None = None, new_id: IdFactory = new_call_id
    ) -> None:
        self.state = StreamState()
        self._model = model
        self._include_usage = include_usage
        self._created = int(time.time()) if created is None else created
        self._new_id = new_id
        self._id: str | None = None
        self._candidates: dict[int, _Candidate] = {}
        self._events = EventSplitter()
        self._held = HeldError()

    def _chunk(self, index: int, delta: dict[str, Any], finish: str | None = None) -> bytes:
        choice = {"index": index, "delta": delta, "finish_reason": finish, "logprobs": None}
        return data_event(self._envelope([choice]))

    def _envelope(self, choices: list[dict[str, Any]]) -> dict[str, Any]:
        return {
            "id": self._id,
            "object": "chat.completion.chunk",
            "created": self._created,
            "model": self._model,
            "choices": choices,
        }

    def _candidate(self, index: int, candidate: Mapping[str, Any]) -> list[bytes]:
        out = []
        seen = self._candidates.get(index)
        if seen is None:
            seen = self._candidates[index] = _Candidate()
            out.append(self._chunk(index, {"role": "assistant", "content": ""}))
        text, thoughts, calls = split_parts(candidate_parts(candidate), self._new_id)
        if thoughts:
            out.append(self._chunk(index, {"reasoning_content": thoughts}))
        if text:
            out.append(self._chunk(index, {"content": text}))
        for call in calls:
            out.append(self._chunk(index, {"tool_calls": [{"index": seen.calls, **call}]}))
            seen.calls += 1
        self.state.output_chunks += bool(thoughts) + bool(text) + len(calls)
        reason = finish_reason(candidate.get("finishReason"), called=seen.calls > 0)
        if reason is not None and not seen.finished:
            seen.finished = True
            out.append(self._chunk(index, {}, reason))
            if index == 0:
                self.state.finish_reason = reason
        return out

    def _translate(self, event: bytes) -> list[bytes]:
        payload = data_lines(event)
        if not payload:
            return []
        try:
            data = orjson.loads(payload)
        except orjson.JSONDecodeError:
            data = None
        if not isinstance(data, dict):
            raise UpstreamError("The upstream sent a stream event that is not a JSON object.", code=INVALID)
        if isinstance(data.get("error"), Mapping):
            code = data["error"].get("code")
            raise error(code if isinstance(code, int) and code >= 400 else 502, payload)
        if self._id is None:
            self._id = completion_id(data)
            if data.get("modelVersion"):
                self._model = str(data["modelVersion"])
        if (found := usage(data.get("usageMetadata"))) is not None:
            self.state.usage = found
        out: list[bytes] = []
        candidates = data.get("candidates")
        for position, candidate in enumerate(candidates if isinstance(candidates, list) else []):
            if isinstance(candidate, Mapping):
                index = candidate.get("index", position)
                out += self._candidate(index if isinstance(index, int) else position, candidate)
        blocked = isinstance(data.get("promptFeedback"), Mapping) and data["promptFeedback"].get("blockReason")
        if blocked and not self._candidates:  # the prompt was refused: no candidate will come
            self._candidates[0] = _Candidate(finished=True)
            out.append(self._chunk(0, {"role": "assistant", "content": ""}))
            out.append(self._chunk(0, {}, "content_filter"))
            self.state.finish_reason = "content_filter"
        return out

    def feed(self, chunk: bytes) -> list[bytes]:
        self._held.raise_held()
        return self._held.translate(self._events.feed(chunk), self._translate)

    def close(self) -> list[bytes]:
        self._held.raise_held()
        rest = self._events.rest()
        out = self._translate(rest) if rest else []
        if self._include_usage and self.state.usage is not None:
            usage_chunk = self._envelope([])
            usage_chunk["usage"] = self.state.usage.as_openai()
            out.append(data_event(usage_chunk))
        return out

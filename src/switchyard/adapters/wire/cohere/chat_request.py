"""An OpenAI chat completions body as a Cohere v2 ``/v2/chat`` body.

Messages keep their roles (``developer`` becomes ``system``); content parts map to Cohere's ``text`` and
``image_url`` items. An assistant turn's ``tool_calls`` keep OpenAI's shape (Cohere v2 uses it too) and its text,
said before the calls, becomes Cohere's ``tool_plan`` — the inverse of the answer's translation. Tools are
OpenAI's ``function`` tools (``strict`` on any turns on ``strict_tools``); ``tool_choice`` ``none``/``required``
become ``NONE``/``REQUIRED``, and a named function becomes ``REQUIRED`` over that tool alone.

Parameters: ``max_completion_tokens``/``max_tokens`` → ``max_tokens``, ``stop`` → ``stop_sequences``,
``top_p`` → ``p``, ``top_k`` → ``k``, ``response_format`` JSON object/schema → ``json_object`` (with its
``json_schema``); ``temperature``, ``seed``, ``frequency_penalty``, ``presence_penalty``, ``logprobs`` keep their
names. Cohere's own fields (``documents``, ``citation_options``, ``safety_mode``, ``thinking``, ``strict_tools``,
``k``, ``p``) pass when the client sends them. ``n`` other than 1 is refused (Cohere answers one choice); other
OpenAI fields (``user``, ``stream_options``…) are not Cohere's and are left out.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from switchyard.errors import BadRequest

SAME_NAME = ("temperature", "seed", "frequency_penalty", "presence_penalty", "logprobs")
COHERE_FIELDS = ("documents", "citation_options", "safety_mode", "thinking", "strict_tools", "k", "p")
TOOL_CHOICES = {"none": "NONE", "required": "REQUIRED"}


def _invalid(message: str, param: str = "messages") -> BadRequest:
    return BadRequest(message, param=param, code="invalid_value")


def _text(content: Any, where: str) -> str | None:
    """Text of a message's content: a string, or its text parts joined."""
    if content is None or isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, Mapping) or part.get("type") != "text":
                raise _invalid(f"{where}: only text content parts are accepted here.")
            texts.append(str(part.get("text") or ""))
        return "".join(texts)
    raise _invalid(f"{where}: 'content' must be a string or an array of content parts.")


def _user_content(content: Any, where: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise _invalid(f"{where}: 'content' must be a string or an array of content parts.")
    items: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, Mapping) else None
        if kind == "text":
            items.append({"type": "text", "text": str(part.get("text") or "")})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            if not isinstance(url, str):
                raise _invalid(f"{where}: an image_url part needs a 'url'.")
            item: dict[str, Any] = {"url": url}
            if isinstance(image, Mapping) and image.get("detail"):
                item["detail"] = image["detail"]
            items.append({"type": "image_url", "image_url": item})
        else:
            raise _invalid(f"{where}: Cohere takes text and image_url content parts, not '{kind}'.")
    return items


def _tool_calls(calls: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(calls, list):
        raise _invalid(f"{where}: 'tool_calls' must be an array.")
    out = []
    for call in calls:
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise _invalid(f"{where}: each tool call needs a function with a name.")
        out.append(
            {
                "id": str(call.get("id") or ""),
                "type": "function",
                "function": {"name": function["name"], "arguments": function.get("arguments") or "{}"},
            }
        )
    return out


def _message(message: Any, index: int) -> dict[str, Any]:
    where = f"messages[{index}]"
    if not isinstance(message, Mapping):
        raise _invalid(f"{where} must be an object.")
    role, content = message.get("role"), message.get("content")
    if role in ("system", "developer"):
        return {"role": "system", "content": _text(content, where) or ""}
    if role == "user":
        return {"role": "user", "content": _user_content(content, where)}
    if role == "assistant":
        out: dict[str, Any] = {"role": "assistant"}
        text = _text(content, where)
        if message.get("tool_calls"):
            out["tool_calls"] = _tool_calls(message["tool_calls"], where)
            if text:
                out["tool_plan"] = text
        else:
            out["content"] = text or ""
        return out
    if role == "tool":
        if not isinstance(message.get("tool_call_id"), str):
            raise _invalid(f"{where}: a tool message needs its 'tool_call_id'.")
        return {"role": "tool", "tool_call_id": message["tool_call_id"], "content": _text(content, where) or ""}
    raise _invalid(f"{where}: role '{role}' is not one of system, developer, user, assistant, tool.")


def _tools(tools: Any) -> tuple[list[dict[str, Any]], bool]:
    if not isinstance(tools, list):
        raise _invalid("'tools' must be an array.", "tools")
    out, strict = [], False
    for tool in tools:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or tool.get("type") != "function" or not function.get("name"):
            raise _invalid("Each tool must be {'type': 'function', 'function': {'name', …}}.", "tools")
        spec: dict[str, Any] = {
            "name": function["name"],
            "parameters": function.get("parameters") or {"type": "object", "properties": {}},
        }
        if function.get("description"):
            spec["description"] = function["description"]
        strict = strict or function.get("strict") is True
        out.append({"type": "function", "function": spec})
    return out, strict


def _tool_choice(choice: Any, tools: list[dict[str, Any]]) -> tuple[str | None, list[dict[str, Any]]]:
    if choice is None or choice == "auto":
        return None, tools
    if isinstance(choice, str) and choice in TOOL_CHOICES:
        return TOOL_CHOICES[choice], tools
    function = choice.get("function") if isinstance(choice, Mapping) else None
    if isinstance(function, Mapping) and isinstance(function.get("name"), str):
        chosen = [t for t in tools if t["function"]["name"] == function["name"]]
        if not chosen:
            raise _invalid(f"tool_choice names '{function['name']}', which is not in 'tools'.", "tool_choice")
        return "REQUIRED", chosen
    raise _invalid("'tool_choice' must be 'auto', 'none', 'required' or a named function.", "tool_choice")


def _response_format(value: Any) -> dict[str, Any] | None:
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        spec = value.get("json_schema")
        schema = spec.get("schema") if isinstance(spec, Mapping) else None
        return {"type": "json_object", "json_schema": schema} if schema is not None else {"type": "json_object"}
    if kind in (None, "text"):
        return None
    raise _invalid(f"response_format type '{kind}' is not supported by Cohere.", "response_format")


def chat_request(body: Mapping[str, Any], *, stream: bool) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _invalid("'messages' must be an array of message objects.")
    if body.get("n") not in (None, 1):
        raise _invalid("Cohere answers with one choice; 'n' must be 1.", "n")
    payload: dict[str, Any] = {"model": body["model"], "messages": [_message(m, i) for i, m in enumerate(messages)]}
    if body.get("tools"):
        tools, strict = _tools(body["tools"])
        choice, tools = _tool_choice(body.get("tool_choice"), tools)
        payload["tools"] = tools
        if choice:
            payload["tool_choice"] = choice
        if strict:
            payload["strict_tools"] = True
    elif body.get("tool_choice") == "none":
        payload["tool_choice"] = "NONE"
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None:
        payload["max_tokens"] = max_tokens
    stop = body.get("stop")
    if stop:
        payload["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("top_p") is not None:
        payload["p"] = body["top_p"]
    if body.get("top_k") is not None:
        payload["k"] = body["top_k"]
    response_format = _response_format(body.get("response_format"))
    if response_format:
        payload["response_format"] = response_format
    for name in SAME_NAME + COHERE_FIELDS:
        if body.get(name) is not None:
            payload[name] = body[name]
    if stream:
        payload["stream"] = True
    return payload

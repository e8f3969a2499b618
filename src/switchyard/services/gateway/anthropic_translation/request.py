"""An Anthropic Messages request checked as Anthropic checks it, and rewritten as an OpenAI chat body.

``system`` becomes a first system message; ``tool_result`` blocks become ``tool`` messages placed before the
rest of their user turn; ``image`` blocks become ``image_url`` parts (base64 sources as data URLs), PDF
``document`` blocks ``file`` parts; ``tool_use`` blocks become the assistant's ``tool_calls``; thinking blocks
sent back in the history are dropped. Tools, tool_choice, stop_sequences, metadata.user_id and sampling fields
are mapped; ``thinking``, ``cache_control`` and server tools have no OpenAI counterpart (server tools are
refused, the others are not sent).
"""

from __future__ import annotations

from typing import Any

import orjson

from switchyard.adapters.wire.anthropic.response import member
from switchyard.errors import BadRequest

Part = dict[str, Any]
SAMPLING = ("temperature", "top_p", "top_k")


def _invalid(message: str, param: str | None = None) -> BadRequest:
    return BadRequest(message, param=param, code="invalid_request")


def _blocks(content: Any, where: str) -> list[Part]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if not isinstance(content, list) or not all(isinstance(block, dict) for block in content):
        raise _invalid(f"{where}: Input should be a string or an array of content blocks", where)
    return content


def _image(block: Part, where: str) -> Part:
    source = member(block, "source")
    if source.get("type") == "base64":
        url = f"data:{source.get('media_type')};base64,{source.get('data')}"
    elif source.get("type") == "url" and isinstance(source.get("url"), str):
        url = source["url"]
    else:
        raise _invalid(f"{where}: image sources must be of type base64 or url", where)
    return {"type": "image_url", "image_url": {"url": url}}


def _document(block: Part, where: str) -> Part:
    source = member(block, "source")
    if source.get("type") != "base64" or source.get("media_type") != "application/pdf":
        raise _invalid(f"{where}: only base64 PDF documents are supported", where)
    return {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{source.get('data')}"}}


def _tool_result_text(block: Part, where: str) -> str:
    content = block.get("content")
    if content is None:
        return ""
    texts = []
    for inner in _blocks(content, where):
        if inner.get("type") != "text":
            raise _invalid(f"{where}: only text is supported inside tool_result blocks", where)
        texts.append(str(inner.get("text") or ""))
    return "\n".join(texts)


def _text_or_parts(parts: list[Part]) -> str | list[Part]:
    if len(parts) == 1 and parts[0]["type"] == "text":
        return str(parts[0]["text"])
    return parts


def _user(content: Any, where: str) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    parts: list[Part] = []
    for n, block in enumerate(_blocks(content, where)):
        kind, at = block.get("type"), f"{where}.{n}"
        if kind == "text":
            parts.append({"type": "text", "text": str(block.get("text") or "")})
        elif kind == "image":
            parts.append(_image(block, at))
        elif kind == "document":
            parts.append(_document(block, at))
        elif kind == "tool_result":
            text = _tool_result_text(block, at)
            results.append({"role": "tool", "tool_call_id": str(block.get("tool_use_id") or ""), "content": text})
        else:
            raise _invalid(f"{at}: content blocks of type {kind!r} are not supported in user messages", where)
    return results + ([{"role": "user", "content": _text_or_parts(parts)}] if parts else [])


def _assistant(content: Any, where: str) -> dict[str, Any]:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for n, block in enumerate(_blocks(content, where)):
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "tool_use":
            arguments = orjson.dumps(block.get("input") or {}).decode()
            function = {"name": str(block.get("name") or ""), "arguments": arguments}
            calls.append({"id": str(block.get("id") or ""), "type": "function", "function": function})
        elif kind not in ("thinking", "redacted_thinking"):
            raise _invalid(f"{where}.{n}: content blocks of type {kind!r} are not supported here", where)
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or (None if calls else "")}
    if calls:
        message["tool_calls"] = calls
    return message


def _system(system: Any) -> str:
    texts = []
    for block in _blocks(system, "system"):
        if block.get("type") != "text":
            raise _invalid("system: only text blocks are allowed", "system")
        texts.append(str(block.get("text") or ""))
    return "\n\n".join(texts)


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        raise _invalid("tools: Input should be a valid list", "tools")
    out = []
    for n, tool in enumerate(tools):
        if not isinstance(tool, dict) or tool.get("type", "custom") != "custom" or not tool.get("name"):
            raise _invalid(f"tools.{n}: only custom tools with a name are supported by this gateway", "tools")
        function = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
        if tool.get("description"):
            function["description"] = tool["description"]
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any, body: dict[str, Any]) -> None:
    if not isinstance(choice, dict):
        raise _invalid("tool_choice: Input should be an object", "tool_choice")
    kind = choice.get("type")
    if kind == "auto":
        body["tool_choice"] = "auto"
    elif kind == "any":
        body["tool_choice"] = "required"
    elif kind == "none":
        body["tool_choice"] = "none"
    elif kind == "tool" and isinstance(choice.get("name"), str):
        body["tool_choice"] = {"type": "function", "function": {"name": choice["name"]}}
    else:
        raise _invalid("tool_choice: type must be auto, any, tool (with a name) or none", "tool_choice")
    if choice.get("disable_parallel_tool_use") is True:
        body["parallel_tool_calls"] = False


def _check(data: dict[str, Any]) -> None:
    if not isinstance(data.get("model"), str) or not data["model"]:
        raise _invalid("model: Field required", "model")
    max_tokens = data.get("max_tokens")
    if max_tokens is None:
        raise _invalid("max_tokens: Field required", "max_tokens")
    if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
        raise _invalid("max_tokens: Input should be an integer greater than or equal to 1", "max_tokens")
    if not isinstance(data.get("messages"), list) or not data["messages"]:
        raise _invalid("messages: Field required (a non-empty array of messages)", "messages")
    if "stream" in data and not isinstance(data["stream"], bool):
        raise _invalid("stream: Input should be a valid boolean", "stream")
    stops = data.get("stop_sequences")
    if stops is not None and (not isinstance(stops, list) or not all(isinstance(s, str) for s in stops)):
        raise _invalid("stop_sequences: Input should be an array of strings", "stop_sequences")


def openai_request(data: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI chat body for an Anthropic Messages request; 400 (naming the field) for what is invalid."""
    _check(data)
    messages: list[dict[str, Any]] = []
    if data.get("system"):
        messages.append({"role": "system", "content": _system(data["system"])})
    for n, message in enumerate(data["messages"]):
        where = f"messages.{n}"
        role = message.get("role") if isinstance(message, dict) else None
        if role == "user":
            messages.extend(_user(message.get("content"), f"{where}.content"))
        elif role == "assistant":
            messages.append(_assistant(message.get("content"), f"{where}.content"))
        else:
            raise _invalid(f"{where}.role: Input should be 'user' or 'assistant'", "messages")
    body: dict[str, Any] = {"model": data["model"], "messages": messages, "max_tokens": data["max_tokens"]}
    for name in SAMPLING:
        if data.get(name) is not None:
            body[name] = data[name]
    if data.get("stop_sequences"):
        body["stop"] = data["stop_sequences"]
    if data.get("tools"):
        body["tools"] = _tools(data["tools"])
        if data.get("tool_choice") is not None:
            _tool_choice(data["tool_choice"], body)
    metadata = data.get("metadata")
    if isinstance(metadata, dict) and isinstance(metadata.get("user_id"), str):
        body["user"] = metadata["user_id"]
    if data.get("stream"):
        body["stream"] = True
        body["stream_options"] = {"include_usage": True}
    return body

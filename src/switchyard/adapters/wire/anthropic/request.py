"""An OpenAI chat request as an Anthropic Messages request (``POST /v1/messages``).

System and developer messages become ``system``; tool results become ``tool_result`` blocks of a user turn
(consecutive user turns are merged, as Anthropic expects all results of one assistant turn together); image
parts become ``image`` blocks (data URLs as base64 sources, other URLs as url sources). ``max_tokens`` is
required by Anthropic: ``max_completion_tokens``, then ``max_tokens``, then ``DEFAULT_MAX_TOKENS``.
OpenAI fields Anthropic has no counterpart for (``n``, ``logprobs``, ``seed``, penalties, ``response_format``,
``stream_options``…) are not sent; Anthropic rejects unknown fields.
"""

from __future__ import annotations

from typing import Any

import orjson

from switchyard.adapters.wire.anthropic.response import member
from switchyard.errors import BadRequest

DEFAULT_MAX_TOKENS = 4096
PASSED_THROUGH = ("temperature", "top_p", "top_k", "thinking")
"""Fields both dialects spell alike (``top_k`` as vLLM does), or Anthropic's own ``thinking`` (set by a client or a
provider's default options). OpenAI's ``metadata`` and ``service_tier`` mean something else and are not sent."""

Block = dict[str, Any]


def _invalid(message: str, param: str = "messages") -> BadRequest:
    return BadRequest(message, param=param, code="unsupported_for_provider")


def _text_of(content: Any, where: str) -> str:
    """The text of a system or tool message (a string, or text parts)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = []
        for part in content:
            if not isinstance(part, dict) or part.get("type") != "text":
                raise _invalid(f"Only text parts are supported in {where} messages by this provider.")
            texts.append(str(part.get("text") or ""))
        return "".join(texts)
    raise _invalid(f"The content of {where} messages must be a string or an array of text parts.")


def image_block(url: str) -> Block:
    if url.startswith("data:"):
        header, sep, data = url[5:].partition(",")
        media_type, _, encoding = header.partition(";")
        if not sep or encoding != "base64" or not media_type:
            raise _invalid("Image data URLs must look like 'data:image/png;base64,<data>'.")
        return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _part_block(part: Any) -> Block | None:
    if not isinstance(part, dict):
        raise _invalid("Each content part must be an object.")
    kind = part.get("type")
    if kind == "text":
        text = str(part.get("text") or "")
        if not text:
            return None  # Anthropic refuses empty text blocks
        block: Block = {"type": "text", "text": text}
    elif kind == "image_url":
        image = part.get("image_url")
        url = image.get("url") if isinstance(image, dict) else image
        if not isinstance(url, str) or not url:
            raise _invalid("An image_url part needs a url.")
        block = image_block(url)
    elif kind == "file":
        file = member(part, "file")
        data = file.get("file_data")
        if not isinstance(data, str) or not data.startswith("data:application/pdf;base64,"):
            raise _invalid("Only PDF files given as 'file_data' (a base64 data URL) are supported by this provider.")
        source = {"type": "base64", "media_type": "application/pdf", "data": data.partition(",")[2]}
        block = {"type": "document", "source": source}
    else:
        raise _invalid(f"Content parts of type '{kind}' are not supported by this provider.")
    if isinstance(part.get("cache_control"), dict):
        block["cache_control"] = part["cache_control"]
    return block


def _content_blocks(content: Any) -> list[Block]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, list):
        return [block for part in content if (block := _part_block(part)) is not None]
    raise _invalid("Message content must be a string or an array of content parts.")


def _tool_use(call: Any) -> Block:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict) or not isinstance(function.get("name"), str):
        raise _invalid("Each tool call needs a function with a name.")
    arguments = function.get("arguments") or "{}"
    try:
        arguments_object = orjson.loads(arguments) if isinstance(arguments, str) else arguments
    except orjson.JSONDecodeError:
        raise _invalid(f"The arguments of tool call '{call.get('id')}' are not valid JSON.") from None
    if not isinstance(arguments_object, dict):
        raise _invalid(f"The arguments of tool call '{call.get('id')}' must be a JSON object.")
    return {"type": "tool_use", "id": str(call.get("id") or ""), "name": function["name"], "input": arguments_object}


def _turn(message: Any) -> tuple[str, list[Block]] | None:
    """The Anthropic role and blocks of one OpenAI message (None for system messages, handled apart)."""
    if not isinstance(message, dict):
        raise _invalid("Each message must be an object.")
    role = message.get("role")
    if role in ("system", "developer"):
        return None
    if role == "user":
        return "user", _content_blocks(message.get("content"))
    if role == "assistant":
        blocks = _content_blocks(message.get("content"))
        blocks += [_tool_use(call) for call in message.get("tool_calls") or []]
        return "assistant", blocks
    if role == "tool":
        result: Block = {
            "type": "tool_result",
            "tool_use_id": str(message.get("tool_call_id") or ""),
            "content": _text_of(message.get("content"), "tool"),
        }
        return "user", [result]
    raise _invalid(f"Messages with role '{role}' are not supported by this provider.")


def _collapse(blocks: list[Block]) -> str | list[Block]:
    if len(blocks) == 1 and blocks[0].keys() == {"type", "text"}:
        return str(blocks[0]["text"])
    return blocks


def _conversation(messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    system: list[str] = []
    turns: list[tuple[str, list[Block]]] = []
    for message in messages:
        turn = _turn(message)
        if turn is None:
            system.append(_text_of(message.get("content"), "system"))
            continue
        role, blocks = turn
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    return [s for s in system if s], [{"role": role, "content": _collapse(blocks)} for role, blocks in turns]


def _tools(tools: Any) -> list[Block]:
    if not isinstance(tools, list):
        raise _invalid("'tools' must be an array.", "tools")
    out = []
    for tool in tools:
        function = tool.get("function") if isinstance(tool, dict) and tool.get("type") == "function" else None
        if not isinstance(function, dict) or not isinstance(function.get("name"), str):
            raise _invalid("Only function tools with a name are supported by this provider.", "tools")
        schema = function.get("parameters") or {"type": "object", "properties": {}}
        converted: Block = {"name": function["name"], "input_schema": schema}
        if function.get("description"):
            converted["description"] = function["description"]
        out.append(converted)
    return out


def _tool_choice(choice: Any, parallel: Any) -> Block | None:
    converted: Block | None
    if choice is None:
        converted = None
    elif choice == "auto":
        converted = {"type": "auto"}
    elif choice == "required":
        converted = {"type": "any"}
    elif choice == "none":
        converted = {"type": "none"}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict) and choice["function"].get("name"):
        converted = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise _invalid("'tool_choice' must be auto, required, none or a named function.", "tool_choice")
    if parallel is False:
        converted = converted or {"type": "auto"}
        if converted["type"] != "none":
            converted["disable_parallel_tool_use"] = True
    return converted


def messages_request(body: dict[str, Any], *, stream: bool) -> dict[str, Any]:
    """The Anthropic body for an OpenAI chat ``body`` (which already holds the upstream model name)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise _invalid("'messages' must be an array of message objects.")
    system, turns = _conversation(messages)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens") or DEFAULT_MAX_TOKENS
    request: dict[str, Any] = {"model": body["model"], "max_tokens": max_tokens, "messages": turns}
    if system:
        request["system"] = "\n\n".join(system)
    for name in PASSED_THROUGH:
        if body.get(name) is not None:
            request[name] = body[name]
    stop = body.get("stop")
    if stop:
        request["stop_sequences"] = [stop] if isinstance(stop, str) else list(stop)
    if body.get("tools"):
        request["tools"] = _tools(body["tools"])
    choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
    if choice is not None and "tools" in request:
        request["tool_choice"] = choice
    if isinstance(body.get("user"), str):
        request["metadata"] = {"user_id": body["user"]}
    if stream:
        request["stream"] = True
    return request

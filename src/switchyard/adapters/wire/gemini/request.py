"""OpenAI-shaped request bodies → Gemini ``generateContent`` / ``embedContent`` / ``batchEmbedContents`` bodies.

Gemini refuses fields it does not know, so the body is built from the fields it has rather than forwarded.
Function schemas travel as ``parametersJsonSchema`` and structured output as ``responseJsonSchema`` (full JSON
Schema) instead of the OpenAPI subset ``parameters`` / ``responseSchema``, which rejects keywords such as
``additionalProperties`` that OpenAI's strict schemas always carry. Gemini-native fields (``safetySettings``,
``cachedContent``, ``generationConfig``, ``task_type`` for embeddings) are taken from the body as well, so a
provider's ``default_options`` can set them.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping
from typing import Any

import orjson

from switchyard.errors import BadRequest

ROLES = {"user": "user", "assistant": "model", "tool": "user", "function": "user"}
TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
NATIVE_FIELDS = ("safetySettings", "cachedContent")


def _invalid(message: str, param: str = "messages") -> BadRequest:
    return BadRequest(message, param=param, code="invalid_value")


def _data_url(url: str) -> tuple[str, str]:
    """mime type and base64 payload of a ``data:<mime>;base64,<data>`` URL."""
    header, sep, data = url.partition(",")
    mime, _, encoding = header[5:].partition(";")
    if not sep or encoding != "base64" or not mime:
        raise _invalid("Only base64 data URLs (data:<mime type>;base64,…) can be sent inline to Gemini.")
    return mime, data


def _image_part(part: Mapping[str, Any]) -> dict[str, Any]:
    image = part.get("image_url")
    url = image.get("url") if isinstance(image, Mapping) else image
    if not isinstance(url, str) or not url:
        raise _invalid("An image_url part needs a url.")
    if url.startswith("data:"):
        mime, data = _data_url(url)
        return {"inlineData": {"mimeType": mime, "data": data}}
    file_data: dict[str, Any] = {"fileUri": url}
    guessed, _ = mimetypes.guess_type(url.split("?", 1)[0])
    if guessed:
        file_data["mimeType"] = guessed
    return {"fileData": file_data}


def _user_part(part: Any) -> dict[str, Any]:
    if not isinstance(part, Mapping):
        raise _invalid("Message content parts must be objects.")
    kind = part.get("type")
    if kind == "text":
        return {"text": str(part.get("text") or "")}
    if kind == "image_url":
        return _image_part(part)
    if kind == "input_audio":
        audio = part.get("input_audio") or {}
        return {"inlineData": {"mimeType": f"audio/{audio.get('format') or 'wav'}", "data": audio.get("data") or ""}}
    if kind == "file":
        file = part.get("file") or {}
        data = file.get("file_data")
        if isinstance(data, str) and data.startswith("data:"):
            mime, payload = _data_url(data)
            return {"inlineData": {"mimeType": mime, "data": payload}}
        raise _invalid("Gemini takes files inline as base64 data URLs in file.file_data.")
    raise _invalid(f"Content parts of type '{kind}' cannot be sent to Gemini.")


def _text(content: Any) -> str:
    """The text of a content that may only hold text (system, assistant, tool messages)."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(str(p.get("text") or p.get("refusal") or "") for p in content if isinstance(p, Mapping))
    raise _invalid("Message content must be a string or an array of content parts.")


def _parts(content: Any) -> list[dict[str, Any]]:
    if content is None or content == "":
        return []
    if isinstance(content, str):
        return [{"text": content}]
    if isinstance(content, list):
        return [_user_part(part) for part in content]
    raise _invalid("Message content must be a string or an array of content parts.")


def _arguments(raw: Any) -> dict[str, Any]:
    if isinstance(raw, Mapping):
        return dict(raw)
    if raw in (None, ""):
        return {}
    try:
        args = orjson.loads(raw)
    except (orjson.JSONDecodeError, TypeError):
        raise _invalid("A tool call's arguments must be a JSON object.") from None
    if not isinstance(args, dict):
        raise _invalid("A tool call's arguments must be a JSON object.")
    return args


def _call_parts(calls: Any, names: dict[str, str]) -> list[dict[str, Any]]:
    parts = []
    for call in calls if isinstance(calls, list) else []:
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not function.get("name"):
            raise _invalid("An assistant tool call needs function.name.")
        name = str(function["name"])
        if call.get("id"):
            names[str(call["id"])] = name
        part: dict[str, Any] = {"functionCall": {"name": name, "args": _arguments(function.get("arguments"))}}
        google = (call.get("extra_content") or {}).get("google") or {}
        if isinstance(google, Mapping) and google.get("thought_signature"):
            part["thoughtSignature"] = google["thought_signature"]
        parts.append(part)
    return parts


def _tool_result(message: Mapping[str, Any], names: dict[str, str]) -> dict[str, Any]:
    name = names.get(str(message.get("tool_call_id"))) or message.get("name")
    if not name:
        raise _invalid("A tool message's tool_call_id must match a tool call of an earlier assistant message.")
    text = _text(message.get("content"))
    try:
        value: Any = orjson.loads(text)
    except orjson.JSONDecodeError:
        value = text
    response = value if isinstance(value, dict) else {"result": value}
    return {"functionResponse": {"name": str(name), "response": response}}


def contents(messages: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """System instruction parts and the conversation, consecutive turns of one role merged (parallel tool
    results must share one turn)."""
    if not isinstance(messages, list):
        raise _invalid("'messages' must be an array of message objects.")
    system: list[dict[str, Any]] = []
    turns: list[dict[str, Any]] = []
    names: dict[str, str] = {}
    for message in messages:
        if not isinstance(message, Mapping):
            raise _invalid("Each message must be an object.")
        role = message.get("role")
        if role in ("system", "developer"):
            if text := _text(message.get("content")):
                system.append({"text": text})
            continue
        if role not in ROLES:
            raise _invalid(f"Unknown message role '{role}'.")
        if role == "assistant":
            text = _text(message.get("content"))
            parts = ([{"text": text}] if text else []) + _call_parts(message.get("tool_calls"), names)
        elif role in ("tool", "function"):
            parts = [_tool_result(message, names)]
        else:
            parts = _parts(message.get("content"))
        if not parts:
            continue
        if turns and turns[-1]["role"] == ROLES[role]:
            turns[-1]["parts"].extend(parts)
        else:
            turns.append({"role": ROLES[role], "parts": parts})
    return system, turns


def _tools(tools: Any) -> list[dict[str, Any]]:
    declarations = []
    for tool in tools if isinstance(tools, list) else []:
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(tool, Mapping) or tool.get("type") != "function" or not isinstance(function, Mapping):
            raise _invalid("Gemini providers take tools of type 'function' only.", "tools")
        if not function.get("name"):
            raise _invalid("Each tool needs function.name.", "tools")
        declaration: dict[str, Any] = {"name": function.get("name"), "description": function.get("description") or ""}
        if function.get("parameters"):
            declaration["parametersJsonSchema"] = function["parameters"]
        declarations.append(declaration)
    return [{"functionDeclarations": declarations}] if declarations else []


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str) and choice in TOOL_MODES:
        return {"functionCallingConfig": {"mode": TOOL_MODES[choice]}}
    if isinstance(choice, Mapping) and isinstance(choice.get("function"), Mapping) and choice["function"].get("name"):
        name = choice["function"]["name"]
        return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    if choice is None:
        return None
    raise _invalid("tool_choice must be 'auto', 'none', 'required' or a named function.", "tool_choice")


def _response_format(value: Any, config: dict[str, Any]) -> None:
    kind = value.get("type") if isinstance(value, Mapping) else None
    if kind == "json_object":
        config["responseMimeType"] = "application/json"
    elif kind == "json_schema":
        schema = (value.get("json_schema") or {}).get("schema")
        config["responseMimeType"] = "application/json"
        if schema:
            config["responseJsonSchema"] = schema


def generation_config(body: Mapping[str, Any]) -> dict[str, Any]:
    native = body.get("generationConfig")
    config: dict[str, Any] = dict(native) if isinstance(native, Mapping) else {}
    simple = {
        "temperature": "temperature",
        "top_p": "topP",
        "top_k": "topK",
        "n": "candidateCount",
        "presence_penalty": "presencePenalty",
        "frequency_penalty": "frequencyPenalty",
        "seed": "seed",
        "max_tokens": "maxOutputTokens",
        "max_completion_tokens": "maxOutputTokens",
    }
    for ours, theirs in simple.items():
        if body.get(ours) is not None:
            config[theirs] = body[ours]
    stop = body.get("stop")
    if stop:
        config["stopSequences"] = [stop] if isinstance(stop, str) else list(stop)
    _response_format(body.get("response_format"), config)
    return config


def chat_request(body: Mapping[str, Any]) -> dict[str, Any]:
    system, turns = contents(body.get("messages"))
    request: dict[str, Any] = {"contents": turns}
    if system:
        request["systemInstruction"] = {"parts": system}
    if tools := _tools(body.get("tools")):
        request["tools"] = tools
    if (tool_config := _tool_config(body.get("tool_choice"))) is not None:
        request["toolConfig"] = tool_config
    if config := generation_config(body):
        request["generationConfig"] = config
    for name in NATIVE_FIELDS:
        if body.get(name) is not None:
            request[name] = body[name]
    return request


def embedding_inputs(body: Mapping[str, Any]) -> list[str]:
    raw = body.get("input")
    inputs = raw if isinstance(raw, list) else [raw]
    if not inputs or not all(isinstance(item, str) for item in inputs):
        raise BadRequest(
            "Gemini embedding models take 'input' as a string or an array of strings (not token ids).",
            param="input",
            code="invalid_value",
        )
    return [str(item) for item in inputs]


def embed_request(body: Mapping[str, Any], resource: str, inputs: list[str]) -> tuple[str, dict[str, Any]]:
    """The Gemini method and body: ``embedContent`` for one input, ``batchEmbedContents`` for several."""
    options: dict[str, Any] = {}
    if body.get("dimensions") is not None:
        options["outputDimensionality"] = body["dimensions"]
    task = body.get("task_type") or body.get("taskType")
    if task:
        options["taskType"] = task
    if len(inputs) == 1:
        return "embedContent", {"content": {"parts": [{"text": inputs[0]}]}, **options}
    requests = [{"model": resource, "content": {"parts": [{"text": text}]}, **options} for text in inputs]
    return "batchEmbedContents", {"requests": requests}

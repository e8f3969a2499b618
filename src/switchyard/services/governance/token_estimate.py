"""A prompt's size in tokens, estimated before the call without a tokenizer (about four characters a token).

Token limits and budgets reserve this estimate (plus the completion the client allows with ``max_tokens``) and
settle with the real usage once the answer is known, so the estimate only has to be cheap and roughly right.
"""

from __future__ import annotations

from typing import Any

from switchyard.domain.gateway import Operation

CHARS_PER_TOKEN = 4
TOKENS_PER_MESSAGE = 4
TOKENS_PER_IMAGE = 85


def _text_chars(value: Any) -> tuple[int, int]:
    """Characters of text and number of images in a message content, a prompt or an input."""
    if isinstance(value, str):
        return len(value), 0
    chars = images = 0
    if isinstance(value, list):
        for part in value:
            if isinstance(part, str):
                chars += len(part)
            elif isinstance(part, int):  # a token id of a pre-tokenized input
                chars += CHARS_PER_TOKEN
            elif isinstance(part, list):
                chars += CHARS_PER_TOKEN * len(part)
            elif isinstance(part, dict):
                if isinstance(part.get("text"), str):
                    chars += len(part["text"])
                elif part.get("type") in ("image_url", "image", "input_image"):
                    images += 1
    return chars, images


def estimate_prompt_tokens(operation: Operation, body: dict[str, Any]) -> int:
    chars = images = extra = 0
    if operation == Operation.chat:
        messages = body.get("messages")
        if isinstance(messages, list):
            for message in messages:
                if isinstance(message, dict):
                    c, i = _text_chars(message.get("content"))
                    chars, images, extra = chars + c, images + i, extra + TOKENS_PER_MESSAGE
        system = body.get("system")  # Anthropic's front door keeps the system prompt apart
        if system is not None:
            c, _ = _text_chars(system)
            chars += c
    else:
        for field in ("prompt", "input", "query", "documents"):
            if field in body:
                c, i = _text_chars(body[field])
                chars, images = chars + c, images + i
    return -(-chars // CHARS_PER_TOKEN) + images * TOKENS_PER_IMAGE + extra


def estimate_any_prompt(body: dict[str, Any]) -> int:
    """A prompt in whichever dialect the body speaks (a pass-through call): OpenAI's or Anthropic's ``messages``,
    Gemini's ``contents``, or a ``prompt``/``input``/``query``/``documents``."""
    if "messages" in body:
        return estimate_prompt_tokens(Operation.chat, body)
    contents = body.get("contents")
    if isinstance(contents, list):
        chars = images = 0
        for content in contents:
            if isinstance(content, dict):
                c, i = _text_chars(content.get("parts"))
                chars, images = chars + c, images + i
        return -(-chars // CHARS_PER_TOKEN) + images * TOKENS_PER_IMAGE + TOKENS_PER_MESSAGE * len(contents)
    return estimate_prompt_tokens(Operation.completions, body)


def completion_allowance(body: dict[str, Any]) -> int:
    """The most completion tokens the client allows (``max_completion_tokens``, else ``max_tokens``), or 0."""
    config = body.get("generationConfig")  # Gemini's, on a pass-through call
    fields: dict[str, Any] = {**config, **body} if isinstance(config, dict) else body
    for field in ("max_completion_tokens", "max_tokens", "max_output_tokens", "maxOutputTokens"):
        value = fields.get(field)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return 0

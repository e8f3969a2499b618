"""The Anthropic Messages API in front of any backend: pure translation, no HTTP.

An Anthropic request becomes an OpenAI chat body (``request.py``) that the gateway sends to whichever provider
the route picks; the OpenAI answer comes back as an Anthropic message (``answer.py``) and an OpenAI stream as
Anthropic's events (``stream.py``). The HTTP side is ``api/gateway/anthropic_front.py``.
"""

from switchyard.services.gateway.anthropic_translation.answer import anthropic_message, message_id, stop_reason
from switchyard.services.gateway.anthropic_translation.request import openai_request
from switchyard.services.gateway.anthropic_translation.stream import AnthropicEvents, sse_event

__all__ = ["AnthropicEvents", "anthropic_message", "message_id", "openai_request", "sse_event", "stop_reason"]

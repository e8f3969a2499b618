"""The official ``anthropic`` SDK, sync and async, against the real server's /v1/messages over HTTP."""

from __future__ import annotations

import anthropic
import pytest

from tests.conftest import ADMIN_KEY
from tests.e2e.conftest import Gateway, unique
from tests.mock_upstream.openai_dialect import WORDS

ANSWER = "".join(WORDS)

ASK = [{"role": "user", "content": "hi"}]


def test_sync_messages_plain_and_streamed(gateway: Gateway) -> None:
    gateway.add_model("claude-e2e", unique("upstream"))
    client = anthropic.Anthropic(api_key=ADMIN_KEY, base_url=gateway.server.url, max_retries=0)
    try:
        message = client.messages.create(model="claude-e2e", max_tokens=64, messages=ASK)
        assert message.content[0].type == "text" and message.content[0].text == ANSWER
        assert message.stop_reason == "end_turn" and message.usage.output_tokens > 0
        with client.messages.stream(model="claude-e2e-alias", max_tokens=64, messages=ASK) as stream:
            text = "".join(stream.text_stream)
            final = stream.get_final_message()
        assert text == ANSWER and final.stop_reason == "end_turn"
        with pytest.raises(anthropic.NotFoundError):
            client.messages.create(model="no-such-model", max_tokens=8, messages=ASK)
    finally:
        client.close()


async def test_async_messages_streamed(gateway: Gateway) -> None:
    gateway.add_model("claude-e2e-async", unique("upstream"))
    client = anthropic.AsyncAnthropic(api_key=ADMIN_KEY, base_url=gateway.server.url, max_retries=0)
    try:
        events = []
        stream = await client.messages.create(model="claude-e2e-async", max_tokens=64, messages=ASK, stream=True)
        async for event in stream:
            events.append(event.type)
        assert events[0] == "message_start" and events[-1] == "message_stop"
        assert "content_block_delta" in events and "message_delta" in events
    finally:
        await client.close()

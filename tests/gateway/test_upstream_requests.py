"""What upstreams receive from the gateway's HTTP client: bodies they must not compress (the gateway reads and
relays them as they come), and the gateway's own user agent."""

from __future__ import annotations

import openai

from switchyard import __version__
from tests.conftest import ModelFactory
from tests.mock_upstream.server import MockUpstream


async def test_upstreams_are_asked_for_uncompressed_answers(
    models: ModelFactory, openai_client: openai.AsyncOpenAI, mock_upstream: MockUpstream
) -> None:
    await models.model("chat-plain", "upstream-plain")
    await openai_client.chat.completions.create(model="chat-plain", messages=[{"role": "user", "content": "hi"}])
    stream = await openai_client.chat.completions.create(
        model="chat-plain", messages=[{"role": "user", "content": "hi"}], stream=True
    )
    assert [chunk async for chunk in stream]

    sent = mock_upstream.received(model="upstream-plain")[-2:]  # the mock serves the whole session
    assert [bool(r.body.get("stream")) for r in sent] == [False, True]  # type: ignore[union-attr]
    for request in sent:
        headers = {name.lower(): value for name, value in request.headers.items()}
        assert headers["accept-encoding"] == "identity"  # never gzip/deflate/br: bodies are parsed and relayed raw
        assert headers["user-agent"] == f"switchyard/{__version__}"

"""Raw pass-through to one provider, audio (multipart in, binary out) and images."""

from __future__ import annotations

import base64

import httpx
import openai
import pytest

from tests.conftest import CallerFactory, ModelFactory
from tests.mock_upstream.server import MockUpstream

H = dict[str, str]


async def test_passthrough_forwards_raw_with_the_providers_credentials(
    models: ModelFactory, client: httpx.AsyncClient, admin_headers: H, mock_upstream: MockUpstream
) -> None:
    provider = await models.provider("raw-model")
    await models.router("raw-router", [provider])
    listed = await client.get(f"/v1/providers/{provider['name']}/models?limit=5", headers=admin_headers)
    assert listed.status_code == 200 and listed.json()["data"][0]["id"] == "upstream-model"
    sent = mock_upstream.received(path="/v1/models")[-1]
    assert sent.query == {"limit": "5"} and sent.headers["Authorization"].startswith("Bearer sk-upstream-secret-")

    body = {"model": "whatever-the-client-says", "messages": [{"role": "user", "content": "x"}], "stream": True}
    streamed = await client.post(f"/v1/providers/{provider['name']}/chat/completions", json=body, headers=admin_headers)
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("text/event-stream")
    assert streamed.text.rstrip().endswith("data: [DONE]")  # the upstream's own stream, untouched
    assert mock_upstream.received(model="whatever-the-client-says")[-1].body == body


async def test_passthrough_is_scoped(
    models: ModelFactory, client: httpx.AsyncClient, new_caller: CallerFactory
) -> None:
    allowed = await models.provider("raw-allowed")
    hidden = await models.provider("raw-hidden")
    await models.router("raw-a", [allowed])
    await models.router("raw-h", [hidden])
    caller = await new_caller()
    key = await client.post(
        "/api/v1/keys", json={"name": "scoped", "allowed_routers": ["raw-a"]}, headers=caller["headers"]
    )
    headers = {"Authorization": f"Bearer {key.json()['key']}"}
    assert (await client.get(f"/v1/providers/{allowed['name']}/models", headers=headers)).status_code == 200
    refused = await client.get(f"/v1/providers/{hidden['name']}/models", headers=headers)
    assert refused.status_code == 404 and refused.json()["error"]["code"] == "provider_not_found"
    assert (await client.get(f"/v1/providers/{allowed['name']}/models")).status_code == 401
    escape = await client.get(f"/v1/providers/{allowed['name']}/../../admin", headers=headers)
    assert escape.status_code in (400, 404)


async def test_audio_transcription_and_speech(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await models.model("whisper", "upstream-whisper", model_type="automatic-speech-recognition")
    await models.model("tts", "upstream-tts", model_type="text-to-speech")
    audio = b"RIFF" + b"\x00" * 400
    transcript = await openai_client.audio.transcriptions.create(
        model="whisper", file=("hello.wav", audio, "audio/wav")
    )
    assert transcript.text == "transcribed hello.wav (404 bytes) with upstream-whisper"
    as_text = await openai_client.audio.transcriptions.create(
        model="whisper", file=("hello.wav", audio, "audio/wav"), response_format="text"
    )
    assert "transcribed hello.wav" in str(as_text)
    speech = await openai_client.audio.speech.create(model="tts", voice="alloy", input="Hello")
    assert speech.content == b"ID3mock-audio-bytes" and speech.response.headers["content-type"] == "audio/mpeg"


async def test_transcription_needs_a_file(models: ModelFactory, client: httpx.AsyncClient, admin_headers: H) -> None:
    await models.model("whisper2", "upstream-whisper2", model_type="automatic-speech-recognition")
    no_file = await client.post("/v1/audio/transcriptions", data={"model": "whisper2"}, files={}, headers=admin_headers)
    assert no_file.status_code == 400
    as_json = await client.post("/v1/audio/transcriptions", json={"model": "whisper2"}, headers=admin_headers)
    assert as_json.status_code == 400 and as_json.json()["error"]["code"] == "invalid_content_type"


async def test_images(models: ModelFactory, openai_client: openai.AsyncOpenAI) -> None:
    await models.model("painter", "upstream-painter", model_type="image-generation")
    image = await openai_client.images.generate(model="painter", prompt="a red square")
    assert image.data and base64.b64decode(image.data[0].b64_json or "") == b"PNG"
    with pytest.raises(openai.BadRequestError):
        await openai_client.chat.completions.create(model="painter", messages=[{"role": "user", "content": "x"}])

"""Multipart bodies (audio transcriptions): the parsed form travels as the body dict, its files under
``FILES_KEY``; an adapter turns it back into multipart for its upstream."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

FILES_KEY = "__files__"


@dataclass(frozen=True, slots=True)
class FormFile:
    field: str
    filename: str
    content_type: str
    data: bytes


def form_data(body: dict[str, Any]) -> aiohttp.FormData:
    form = aiohttp.FormData()
    for name, value in body.items():
        if name == FILES_KEY:
            continue
        values = value if isinstance(value, list) else [value]
        for item in values:
            form.add_field(name, item if isinstance(item, str) else str(item))
    for upload in body.get(FILES_KEY, []):
        form.add_field(upload.field, upload.data, filename=upload.filename, content_type=upload.content_type)
    return form

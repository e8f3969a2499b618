"""Reading a ``multipart/form-data`` request body into fields and files (stdlib parser, no extra package)."""

from __future__ import annotations

from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import HTTP
from typing import Any

from switchyard.adapters.wire.forms import FILES_KEY, FormFile
from switchyard.errors import BadRequest


def parse_form(content_type: str, body: bytes) -> dict[str, Any]:
    """Repeated fields (``timestamp_granularities[]``) become lists; files go under ``FILES_KEY``."""
    if not content_type.lower().startswith("multipart/form-data") or "boundary=" not in content_type:
        raise BadRequest("Send this request as multipart/form-data with a file.", code="invalid_content_type")
    message = BytesParser(_class=EmailMessage, policy=HTTP).parsebytes(
        b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n" + body
    )
    if not message.is_multipart():
        raise BadRequest("The multipart body could not be read.", code="invalid_multipart")
    fields: dict[str, Any] = {}
    files: list[FormFile] = []
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            files.append(FormFile(name, filename, part.get_content_type(), data))
        elif name.endswith("[]") or name in fields:
            previous = fields.get(name, [])
            fields[name] = [*(previous if isinstance(previous, list) else [previous]), data.decode(errors="replace")]
        else:
            fields[name] = data.decode(errors="replace")
    if not files:
        raise BadRequest("The form has no file; send the audio as the 'file' field.", param="file")
    fields[FILES_KEY] = files
    return fields

"""Credentials as the services see them: a named, typed set of secret values, and the keys each type takes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CredentialType(StrEnum):
    hf = "hf"
    """A Hugging Face access token."""
    ngc = "ngc"
    """An NVIDIA NGC API key."""
    s3 = "s3"
    """Keys of an S3-compatible object store."""
    provider = "provider"
    """The API key of an external model provider."""
    generic = "generic"
    """Any named secret values."""


@dataclass(frozen=True, slots=True)
class DataKeys:
    """The keys a credential type's ``data`` takes."""

    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    open: bool = False
    """Other keys are allowed too: a provider may need more than its key; a generic credential takes any."""

    @property
    def known(self) -> tuple[str, ...]:
        return self.required + self.optional


DATA_KEYS: dict[CredentialType, DataKeys] = {
    CredentialType.hf: DataKeys(required=("token",)),
    CredentialType.ngc: DataKeys(required=("api_key",)),
    CredentialType.s3: DataKeys(
        required=("access_key_id", "secret_access_key"), optional=("endpoint", "region", "bucket")
    ),
    CredentialType.provider: DataKeys(required=("api_key",), open=True),
    CredentialType.generic: DataKeys(required=(), open=True),
}


@dataclass(frozen=True, slots=True)
class Credential:
    id: int
    name: str
    type: CredentialType
    description: str
    masked_data: dict[str, str]
    """Each key with its value masked (``sealing.mask``): all that may leave the service layer."""
    owner_id: int | None
    created_at: datetime
    updated_at: datetime

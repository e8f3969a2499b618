"""What a fresh installation needs: the built-in roles, an admin user and an admin API key; and, at every start,
the local runtime's configuration and the built-in embedding model (``SWITCHYARD_BUILTIN_EMBEDDINGS``)."""

from __future__ import annotations

import secrets
from dataclasses import asdict, dataclass

from sqlalchemy import func, select

from switchyard.adapters.runtimes.local_model import RuntimeConfig
from switchyard.adapters.runtimes.local_model import configure as configure_local_models
from switchyard.adapters.runtimes.sources import BUILTIN, LOCAL_SCHEME
from switchyard.domain.gateway import ModelType, ProviderAuth, RouterMember, Timeouts, WireFormat
from switchyard.errors import Conflict
from switchyard.services import audit
from switchyard.services.passwords import hash_password
from switchyard.services.permissions import Permission
from switchyard.services.platform import Platform
from switchyard.services.principal import Caller
from switchyard.services.providers import create_provider
from switchyard.services.routers import create_router
from switchyard.services.tokens import api_key_from_given, new_api_key
from switchyard.store.tables import ApiKeyRow, ProviderRow, RoleRow, RouterRow, UserRow

ADMIN_ROLE = "admin"
USER_ROLE = "user"
BUILTIN_EMBEDDINGS = "all-minilm-l6-v2"


@dataclass(frozen=True, slots=True)
class FirstStart:
    """What to print once: secrets that were generated (None when they came from settings)."""

    admin_email: str
    admin_password: str | None
    admin_key: str | None


async def _role(platform: Platform, name: str, description: str, permissions: list[str]) -> int:
    async with platform.transaction() as session:
        role_id = (await session.execute(select(RoleRow.id).where(RoleRow.name == name))).scalar_one_or_none()
        if role_id is not None:
            return role_id
        row = RoleRow(name=name, description=description, permissions=permissions, limits=[])
        session.add(row)
        await session.flush()
        return row.id


async def builtin_embeddings(platform: Platform, caller: Caller) -> None:
    """Idempotent: the built-in embedding model's provider and router, each created when nothing has its name
    (an existing one, changed or not, is left as it is)."""
    model = BUILTIN[BUILTIN_EMBEDDINGS]
    async with platform.transaction() as session:
        provider_id = (
            await session.execute(select(ProviderRow.id).where(ProviderRow.name == model.name))
        ).scalar_one_or_none()
        names = (await session.execute(select(RouterRow.name, RouterRow.aliases))).all()
    try:
        if provider_id is None:
            values = {
                "name": model.name,
                "wire_format": WireFormat.local.value,
                "base_url": f"{LOCAL_SCHEME}://{model.name}",
                "upstream_model": model.name,
                "auth": asdict(ProviderAuth()),
                "timeouts": asdict(Timeouts()),
                "vector_size": model.dimension,
                "context_length": model.max_tokens,
                "capabilities": ["embeddings"],
            }
            provider_id = (await create_provider(platform, caller, values, None)).id
        if not any(model.name == name or model.name in aliases for name, aliases in names):
            router = {
                "name": model.name,
                "model_type": ModelType.text_embeddings_inference.value,
                "description": "Built in: sentence-transformers/all-MiniLM-L6-v2, served in process.",
            }
            await create_router(platform, caller, router, [RouterMember(provider_id)])
    except Conflict:  # another process starting at the same time created it
        return


async def bootstrap(platform: Platform) -> FirstStart | None:
    """Idempotent. Creates the built-in roles; on an empty user table the admin user and its first key;
    and, when ``SWITCHYARD_ADMIN_KEY`` is set, that key if it does not exist yet. Returns what to print."""
    settings = platform.settings
    caller = Caller(principal=None, client_ip=None)
    admin_role = await _role(platform, ADMIN_ROLE, "Everything.", [Permission.admin.value])
    await _role(platform, USER_ROLE, "Uses models with their own keys.", [])
    configure_local_models(
        RuntimeConfig(
            models_dir=settings.resolved_models_dir,
            max_batch=settings.local_max_batch,
            batch_wait=settings.local_batch_wait_ms / 1000,
            threads=settings.local_threads,
        )
    )
    if settings.builtin_embeddings:
        await builtin_embeddings(platform, caller)
    generated_password = generated_key = None
    async with platform.identity_change() as session:
        users = (await session.execute(select(func.count()).select_from(UserRow))).scalar_one()
        admin = (
            await session.execute(select(UserRow).where(UserRow.email == settings.admin_email))
        ).scalar_one_or_none()
        first_start = users == 0
        if first_start:
            if settings.admin_password is not None:
                password = settings.admin_password.get_secret_value()
            else:
                password = generated_password = secrets.token_urlsafe(18)
            admin = UserRow(
                email=settings.admin_email,
                name="Administrator",
                password_hash=await hash_password(password),
                role_id=admin_role,
            )
            session.add(admin)
            await session.flush()
            audit.record(session, caller, "user.create", "user", admin.id, "created the first admin user")
        if admin is None:
            return None
        if settings.admin_key is not None:
            key = api_key_from_given(settings.admin_key.get_secret_value())
        elif first_start:
            key = new_api_key()
            generated_key = key.value
        else:
            key = None
        if key is not None:
            exists = (
                await session.execute(select(ApiKeyRow.id).where(ApiKeyRow.secret_hash == key.hash))
            ).scalar_one_or_none()
            if exists is None:
                row = ApiKeyRow(name="admin", user_id=admin.id, prefix=key.prefix, secret_hash=key.hash)
                session.add(row)
                await session.flush()
                audit.record(session, caller, "key.create", "key", row.id, "created the admin API key")
    if not first_start:
        return None
    return FirstStart(settings.admin_email, generated_password, generated_key)

"""The fixed set of permissions a role may grant.

``admin`` implies every other permission. Routes declare the one they need (``api/auth.py``); routes that act
only on the caller's own things (``/me``, own keys) need an authenticated caller and no permission.
"""

from __future__ import annotations

from enum import StrEnum


class Permission(StrEnum):
    admin = "admin"
    manage_users = "manage_users"
    manage_keys = "manage_keys"
    manage_credentials = "manage_credentials"
    manage_providers = "manage_providers"
    manage_models = "manage_models"
    read_usage = "read_usage"
    read_metrics = "read_metrics"
    read_audit = "read_audit"


PERMISSION_DESCRIPTIONS: dict[Permission, str] = {
    Permission.admin: "Everything, including roles (which grant permissions) and every other permission.",
    Permission.manage_users: "Create, change and delete users and organizations; read roles to assign them.",
    Permission.manage_keys: "Manage every user's API keys (everyone manages their own).",
    Permission.manage_credentials: "Create, change and delete sealed credentials (hf, ngc, s3, provider).",
    Permission.manage_providers: "Manage providers and routers of the gateway.",
    Permission.manage_models: "Manage the catalog, model registry and deployments.",
    Permission.read_usage: "Read any user's or organization's usage records.",
    Permission.read_metrics: "Read gateway metrics.",
    Permission.read_audit: "Search the audit log.",
}


def parse_permissions(values: list[str]) -> frozenset[Permission]:
    """Validated permissions; raises ValueError naming the first unknown one."""
    known = {p.value for p in Permission}
    for value in values:
        if value not in known:
            raise ValueError(f"unknown permission '{value}' (known: {', '.join(sorted(known))})")
    return frozenset(Permission(v) for v in values)

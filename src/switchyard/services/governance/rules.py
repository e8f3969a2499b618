"""A router's rate-limit rule: a CEL expression that chooses, per request, the bucket or the limits.

The expression sees ``user`` (``{id, email, role, priority}``), ``key`` (``{id}``, or null for a session token),
``organization`` (an id or null), ``model`` (the router's name), ``endpoint`` (``chat``, ``embeddings``…) and
``estimated_tokens``. It answers either a string — the bucket in which the router's limits are counted (the
default bucket is the user) — or a map with an optional ``bucket`` and any of ``rpm``, ``rpd``, ``tpm``, ``tpd``,
which replace the role's limits on this router for the request. Examples::

    organization != null ? "org-" + string(organization) : "user-" + string(user.id)
    estimated_tokens > 4000 ? {"bucket": "long-prompts", "rpm": 10} : {"rpm": 600}

An expression that does not compile, uses an unknown variable or answers something else is refused when the
router is saved. One that fails at request time on unusual input falls back to the default bucket and limits.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import cel

from switchyard.domain.governance import LimitType

log = logging.getLogger(__name__)

VARIABLES = frozenset({"user", "key", "organization", "model", "endpoint", "estimated_tokens"})
LIMIT_FIELDS = frozenset(t.value for t in LimitType)

SAMPLES: tuple[dict[str, Any], ...] = (
    {
        "user": {"id": 1, "email": "someone@example.com", "role": "user", "priority": 0},
        "key": {"id": 1},
        "organization": 1,
        "model": "model",
        "endpoint": "chat",
        "estimated_tokens": 100,
    },
    {
        "user": {"id": 2, "email": "other@example.com", "role": "admin", "priority": 5},
        "key": None,
        "organization": None,
        "model": "model",
        "endpoint": "embeddings",
        "estimated_tokens": 100_000,
    },
)
"""Requests a rule is tried on when saved, so that a rule answering the wrong type is refused then."""


class InvalidRule(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class RuleChoice:
    bucket: str | None = None
    limits: dict[LimitType, int] | None = None


def _choice(value: Any) -> RuleChoice:
    if isinstance(value, str):
        if not value:
            raise InvalidRule("the rule answered an empty bucket name")
        return RuleChoice(bucket=value)
    if isinstance(value, dict):
        unknown = set(value) - LIMIT_FIELDS - {"bucket"}
        if unknown:
            raise InvalidRule(f"the rule's map has unknown fields {sorted(map(str, unknown))}")
        bucket = value.get("bucket")
        if bucket is not None and (not isinstance(bucket, str) or not bucket):
            raise InvalidRule("the rule's 'bucket' must be a non-empty string")
        limits: dict[LimitType, int] = {}
        for name in LIMIT_FIELDS & set(value):
            amount = value[name]
            if not isinstance(amount, int) or isinstance(amount, bool) or amount < 0:
                raise InvalidRule(f"the rule's '{name}' must be an integer ≥ 0")
            limits[LimitType(name)] = amount
        return RuleChoice(bucket=bucket, limits=limits or None)
    raise InvalidRule(f"a rule must answer a string (the bucket) or a map, not {type(value).__name__}")


class Rule:
    def __init__(self, source: str) -> None:
        try:
            self._program = cel.compile(source)
        except ValueError as exc:
            raise InvalidRule(f"not a valid CEL expression: {str(exc).splitlines()[0]}") from None
        unknown = set(self._program.variables()) - VARIABLES
        if unknown:
            raise InvalidRule(
                f"unknown variable(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(VARIABLES))}"
            )
        self.source = source

    def validate(self) -> None:
        """Tries the rule on sample requests; raises InvalidRule when it fails or answers the wrong type."""
        for sample in SAMPLES:
            try:
                value = self._program.execute(sample)
            except (RuntimeError, TypeError, ValueError) as exc:
                raise InvalidRule(f"the rule fails on a sample request: {str(exc).splitlines()[0]}") from None
            _choice(value)

    def choose(self, activation: dict[str, Any]) -> RuleChoice | None:
        try:
            return _choice(self._program.execute(activation))
        except (RuntimeError, TypeError, ValueError) as exc:
            log.warning("rate-limit rule %r failed (%s); default bucket and limits apply", self.source, exc)
            return None


def compile_rule(source: str) -> Rule:
    """A rule checked as when saved: raises InvalidRule (a ValueError) naming what is wrong."""
    rule = Rule(source)
    rule.validate()
    return rule

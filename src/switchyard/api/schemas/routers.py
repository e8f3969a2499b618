from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, StringConstraints

from switchyard.api.schemas.common import Description, Money, PatchModel, PublicModel, RequestModel
from switchyard.api.schemas.providers import Priority, Weight
from switchyard.domain.gateway import ROUTER_ALIASES, ModelType, RetryOn, Router, RouterMember, RouterMode, Strategy

RETRY_ON = "What moves a request on to the next provider: connect_error, timeout (before the first byte), 429, 5xx."


def _distinct_sorted(values: list[RetryOn]) -> list[RetryOn]:
    return sorted(set(values))


RetrySet = Annotated[list[RetryOn], AfterValidator(_distinct_sorted)]

ModelName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[^\s]{1,200}$")]


def _alias(value: Any) -> Any:
    return ROUTER_ALIASES.get(value, value) if isinstance(value, str) else value


StrategyField = Annotated[Strategy, BeforeValidator(_alias)]
ModeField = Annotated[RouterMode, BeforeValidator(_alias)]


class Member(RequestModel):
    provider_id: int
    weight: Weight | None = Field(None, description="Overrides the provider's weight on this router.")
    priority: Priority | None = Field(None, description="Overrides the provider's priority on this router.")

    def to_domain(self) -> RouterMember:
        return RouterMember(self.provider_id, self.weight, self.priority)


Rule = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
RULE = (
    "A CEL expression choosing, per request, the bucket (a string) or the limits (a map with `bucket`, `rpm`, "
    "`rpd`, `tpm`, `tpd`) of this router's rate limits. Variables: user, key, organization, model, endpoint, "
    "estimated_tokens. Checked when saved."
)
QueueWait = Annotated[float, Field(ge=0, le=600)]
QUEUE_WAIT = (
    "When every provider is at its max_in_flight, how long a request may wait in the router's queue (by user "
    "priority) before a 503."
)


class RouterCreate(RequestModel):
    name: ModelName
    aliases: list[ModelName] = Field(default_factory=list)
    description: Description = ""
    model_type: ModelType
    mode: ModeField = RouterMode.loadbalance
    strategy: StrategyField = Strategy.weighted
    providers: list[Member] = Field(default_factory=list)
    cost_prompt_tokens: Money = Field(0.0, description="Price of one million prompt tokens.")
    cost_completion_tokens: Money = Field(0.0, description="Price of one million completion tokens.")
    usage_extras: bool = Field(False, description="Add `cost` and `carbon` to the `usage` object of answers.")
    enabled: bool = True
    retry_on: RetrySet = Field(default_factory=lambda: sorted(RetryOn), description=RETRY_ON)
    rate_limit_rule: Rule | None = Field(None, description=RULE)
    max_queue_wait_seconds: QueueWait = Field(10.0, description=QUEUE_WAIT)

    def column_values(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude={"providers"})

    def members(self) -> list[RouterMember]:
        return [m.to_domain() for m in self.providers]


class RouterUpdate(PatchModel):
    NOT_NULL: ClassVar[frozenset[str]] = frozenset(
        {
            "name",
            "aliases",
            "description",
            "model_type",
            "mode",
            "strategy",
            "providers",
            "cost_prompt_tokens",
            "cost_completion_tokens",
            "usage_extras",
            "enabled",
            "retry_on",
            "max_queue_wait_seconds",
        }
    )
    name: ModelName | None = None
    aliases: list[ModelName] | None = None
    description: Description | None = None
    model_type: ModelType | None = None
    mode: ModeField | None = None
    strategy: StrategyField | None = None
    providers: list[Member] | None = None
    cost_prompt_tokens: Money | None = None
    cost_completion_tokens: Money | None = None
    usage_extras: bool | None = None
    enabled: bool | None = None
    retry_on: RetrySet | None = Field(None, description=RETRY_ON)
    rate_limit_rule: Rule | None = Field(None, description=RULE)
    max_queue_wait_seconds: QueueWait | None = Field(None, description=QUEUE_WAIT)

    def column_changes(self) -> dict[str, Any]:
        changes = self.model_dump(mode="json", exclude_unset=True)
        changes.pop("providers", None)
        return changes

    def members(self) -> list[RouterMember] | None:
        return None if self.providers is None else [m.to_domain() for m in self.providers]


class MemberPublic(BaseModel):
    provider_id: int
    weight: int | None
    priority: int | None


class RouterPublic(PublicModel):
    object: Literal["router"] = "router"
    id: int
    name: str
    aliases: list[str]
    description: str
    model_type: ModelType
    mode: RouterMode
    strategy: Strategy
    providers: list[MemberPublic]
    cost_prompt_tokens: float
    cost_completion_tokens: float
    usage_extras: bool
    enabled: bool
    retry_on: list[RetryOn]
    rate_limit_rule: str | None
    max_queue_wait_seconds: float
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_router(cls, router: Router) -> RouterPublic:
        public = cls.from_domain(router)
        public.retry_on = sorted(router.retry_on)
        return public

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, ClassVar, Literal

from pydantic import AfterValidator, BaseModel, Field, StringConstraints

from switchyard.api.schemas.common import Description, PatchModel, PublicModel, RequestModel
from switchyard.domain.deployments import Deployment, DeploymentKind, DeploymentStatus, LogLine, ServingSize

MODEL_HELP = (
    "The logged model to serve: its id (`m-…`), `models:/<name>@<alias>` or `models:/<name>/<version>` "
    "of the MLflow registry at `/mlflow`. Setting it again (even to the same alias) rolls out what it names now."
)
NAME_HELP = "Unique; the model name of the Open Inference Protocol (`/v2/models/{name}/infer`)."

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,199}")
REFERENCE = re.compile(r"m-[0-9a-f]{32}|models:/(m-[0-9a-f]{32}|[^\s@/][^\s@]*@[^\s@/]+|[^\s@/][^\s@]*/[0-9]+)")


def _name(value: str) -> str:
    if not NAME.fullmatch(value):
        raise ValueError("use 1 to 200 letters, digits, '.', '_' or '-', starting with a letter or digit")
    return value


def _reference(value: str) -> str:
    if not REFERENCE.fullmatch(value):
        raise ValueError("use a logged model id (m-…), models:/<name>@<alias> or models:/<name>/<version>")
    return value


DeploymentName = Annotated[
    str, StringConstraints(strip_whitespace=True), AfterValidator(_name), Field(examples=["iris-classifier"])
]
ModelReference = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=1000),
    AfterValidator(_reference),
    Field(examples=["models:/iris@champion", "models:/iris/3", "m-0123456789abcdef0123456789abcdef"]),
]
TagKey = Annotated[str, StringConstraints(pattern=r"^[^\s/][^/]{0,199}$")]
TagValue = Annotated[str, StringConstraints(max_length=1000)]
Tags = Annotated[dict[TagKey, TagValue], Field(max_length=50)]


class Serving(RequestModel):
    size: ServingSize = Field(
        ServingSize.small,
        description="small: 1 runtime thread, 2 inferences at once per process; large: 2 and 4; extra-large: 4 and 8.",
    )


class DeploymentCreate(RequestModel):
    kind: Literal[DeploymentKind.logged_model] = DeploymentKind.logged_model
    model: ModelReference = Field(description=MODEL_HELP)
    name: DeploymentName = Field(description=NAME_HELP)
    description: Description = ""
    serving: Serving = Field(default_factory=Serving)
    tags: Tags = Field(default_factory=dict, description="Key → value (the value may be empty).")

    def column_values(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "model": self.model,
            "name": self.name,
            "description": self.description,
            "serving_size": self.serving.size.value,
        }


class DeploymentUpdate(PatchModel):
    NOT_NULL: ClassVar[frozenset[str]] = frozenset({"model", "name", "description", "serving"})
    model: ModelReference | None = Field(None, description=MODEL_HELP)
    name: DeploymentName | None = Field(None, description=NAME_HELP)
    description: Description | None = None
    serving: Serving | None = None

    def column_changes(self) -> dict[str, Any]:
        changes = self.model_dump(mode="json", exclude_unset=True, exclude={"serving"})
        if self.serving is not None:
            changes["serving_size"] = self.serving.size.value
        return changes


class DeploymentTags(RequestModel):
    tags: Tags = Field(description="Tags to add, or whose value to change: key → value.")


class ServingPublic(BaseModel):
    size: ServingSize


class TagPublic(BaseModel):
    key: str
    value: str


class DeploymentPublic(PublicModel):
    object: Literal["deployment"] = "deployment"
    id: int
    name: str
    description: str
    kind: DeploymentKind
    model: str
    serving: ServingPublic
    status: DeploymentStatus
    error: str | None = Field(description="Why the latest revision cannot be served; null when it can.")
    revision: int = Field(description="Bumped by each change of model or serving size.")
    running_revision: int | None = Field(description="The revision that serves requests; null before the first.")
    model_data: dict[str, Any] = Field(description="What the running revision serves: platform, inputs, outputs.")
    tags: list[TagPublic]
    created_by: int | None
    created_at: datetime | None
    updated_at: datetime | None

    @classmethod
    def from_deployment(cls, deployment: Deployment) -> DeploymentPublic:
        return cls(
            id=deployment.id,
            name=deployment.name,
            description=deployment.description,
            kind=deployment.kind,
            model=deployment.model,
            serving=ServingPublic(size=deployment.serving_size),
            status=deployment.status,
            error=deployment.error,
            revision=deployment.revision,
            running_revision=deployment.running_revision,
            model_data=deployment.model_data,
            tags=[TagPublic(key=k, value=v) for k, v in deployment.tags.items()],
            created_by=deployment.created_by,
            created_at=deployment.created_at,
            updated_at=deployment.updated_at,
        )


class LogLinePublic(PublicModel):
    time: datetime
    level: str
    message: str

    @classmethod
    def from_line(cls, line: LogLine) -> LogLinePublic:
        return cls(time=line.time, level=line.level, message=line.message)

"""Wire models of the MLflow views: experiments, runs, logged models (field names after Fathom's, snake_case)."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, Self

from pydantic import BaseModel, Field

from switchyard.api.schemas.common import PublicModel
from switchyard.domain.experiments import Experiment, LoggedModel, Run


class Tag(BaseModel):
    key: str
    value: str


def _tags(tags: dict[str, str]) -> list[Tag]:
    return [Tag(key=k, value=v) for k, v in sorted(tags.items())]


class ExperimentPublic(PublicModel):
    object: Literal["experiment"] = "experiment"
    id: str = Field(description="MLflow's experiment id.")
    name: str
    lifecycle_stage: str = Field(description="`active` or `deleted`.")
    artifact_location: str
    created_at: datetime | None
    updated_at: datetime | None
    tags: list[Tag]

    @classmethod
    def from_domain(cls, obj: Experiment) -> Self:
        return cls(
            id=obj.id,
            name=obj.name,
            lifecycle_stage=obj.lifecycle_stage,
            artifact_location=obj.artifact_location,
            created_at=obj.created_at,
            updated_at=obj.updated_at,
            tags=_tags(obj.tags),
        )


class RunPublic(PublicModel):
    object: Literal["run"] = "run"
    id: str = Field(description="MLflow's run id.")
    experiment_id: str
    name: str
    status: str = Field(description="`running`, `scheduled`, `finished`, `failed` or `killed`.")
    lifecycle_stage: str
    user: str | None
    created_at: datetime | None = Field(description="When the run started.")
    updated_at: datetime | None = Field(description="When it ended, else when it started.")
    ended_at: datetime | None
    artifact_uri: str
    tags: list[Tag]
    metrics: dict[str, float] = Field(description="The latest value of each metric.")
    parameters: dict[str, str]

    @classmethod
    def from_domain(cls, obj: Run) -> Self:
        return cls(
            id=obj.id,
            experiment_id=obj.experiment_id,
            name=obj.name,
            status=obj.status,
            lifecycle_stage=obj.lifecycle_stage,
            user=obj.user,
            created_at=obj.created_at,
            updated_at=obj.updated_at,
            ended_at=obj.ended_at,
            artifact_uri=obj.artifact_uri,
            tags=_tags(obj.tags),
            metrics=obj.metrics,
            parameters=obj.parameters,
        )


class TensorSpecPublic(BaseModel):
    name: str
    datatype: str = Field(description="A V2 datatype: FP32, INT64, BYTES…")
    shape: list[int] = Field(description="-1 for a dimension of any size.")


class ModelSchema(BaseModel):
    input: list[TensorSpecPublic]
    output: list[TensorSpecPublic]


class LoggedModelPublic(PublicModel):
    object: Literal["logged_model"] = "logged_model"
    id: str = Field(description="MLflow's logged model id (`m-…`); `models:/<id>` loads it.")
    name: str
    experiment_id: str
    run_id: str | None
    kind: str = Field(description="`onnx`, `sklearn`, `pytorch`, `hugging-face` or `unknown`.")
    status: str = Field(description="`pending`, `ready` or `upload-failed`.")
    model_size: int | None = Field(description="Bytes.")
    created_at: datetime | None
    updated_at: datetime | None
    artifact_location: str
    model_schema: ModelSchema | None = Field(
        alias="schema", serialization_alias="schema", description="Tensor inputs and outputs of an ONNX model."
    )
    input_example: Any = Field(description="The input example logged with the model, as saved; null if none.")
    tags: list[Tag]
    parameters: dict[str, str]

    @classmethod
    def from_domain(cls, obj: LoggedModel) -> Self:
        return cls.model_validate(
            {
                "id": obj.id,
                "name": obj.name,
                "experiment_id": obj.experiment_id,
                "run_id": obj.run_id,
                "kind": obj.kind,
                "status": obj.status,
                "model_size": obj.model_size,
                "created_at": obj.created_at,
                "updated_at": obj.updated_at,
                "artifact_location": obj.artifact_location,
                "schema": obj.schema,
                "input_example": obj.input_example,
                "tags": _tags(obj.tags),
                "parameters": obj.parameters,
            }
        )


class InputTensor(BaseModel):
    name: str
    shape: list[int]
    datatype: str
    data: list[Any]


class InputExample(BaseModel):
    """A V2 inference request body (`POST /v2/models/{name}/infer`)."""

    id: str
    inputs: list[InputTensor]

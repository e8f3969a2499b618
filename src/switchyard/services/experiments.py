"""The management views of MLflow's experiments, runs and logged models (read-only; MLflow's own API at
``/mlflow`` writes them).

Lists hide deleted experiments and runs unless the query filters on ``lifecycle_stage``. Runs and logged models
filter and sort on ``metrics.<name>``, ``parameters.<name>`` and ``tags.<name>`` too. The store is read in a
worker thread; the filter DSL is applied in memory (``memory_query``), as MLflow's search cannot count.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

import numpy as np

from switchyard.adapters import mlflow_catalog
from switchyard.domain.experiments import Experiment, LoggedModel, Run
from switchyard.errors import NotFound
from switchyard.listing import Filter, FilterOp, ListQuery, Page, Sort
from switchyard.services.memory_query import Field, FieldFamily, Fields, page_of
from switchyard.services.platform import Platform


def _numbered(value: str) -> Any:
    return int(value) if value.isdigit() else value


EXPERIMENT_FIELDS: Fields[Experiment] = Fields(
    named={
        "id": Field(int, lambda e: _numbered(e.id)),
        "name": Field(str, lambda e: e.name),
        "lifecycle_stage": Field(str, lambda e: e.lifecycle_stage),
        "created_at": Field(datetime, lambda e: e.created_at),
        "updated_at": Field(datetime, lambda e: e.updated_at),
    },
    families={"tags": FieldFamily(str, lambda e, key: e.tags.get(key))},
)
RUN_FIELDS: Fields[Run] = Fields(
    named={
        "id": Field(str, lambda r: r.id),
        "name": Field(str, lambda r: r.name),
        "status": Field(str, lambda r: r.status),
        "lifecycle_stage": Field(str, lambda r: r.lifecycle_stage),
        "user": Field(str, lambda r: r.user),
        "created_at": Field(datetime, lambda r: r.created_at),
        "updated_at": Field(datetime, lambda r: r.updated_at),
        "ended_at": Field(datetime, lambda r: r.ended_at),
    },
    families={
        "metrics": FieldFamily(float, lambda r, key: r.metrics.get(key)),
        "parameters": FieldFamily(str, lambda r, key: r.parameters.get(key)),
        "tags": FieldFamily(str, lambda r, key: r.tags.get(key)),
    },
)
LOGGED_MODEL_FIELDS: Fields[LoggedModel] = Fields(
    named={
        "id": Field(str, lambda m: m.id),
        "name": Field(str, lambda m: m.name),
        "experiment_id": Field(int, lambda m: _numbered(m.experiment_id)),
        "run_id": Field(str, lambda m: m.run_id),
        "status": Field(str, lambda m: m.status),
        "created_at": Field(datetime, lambda m: m.created_at),
        "updated_at": Field(datetime, lambda m: m.updated_at),
    },
    families={
        "parameters": FieldFamily(str, lambda m, key: m.parameters.get(key)),
        "tags": FieldFamily(str, lambda m, key: m.tags.get(key)),
    },
)
NEWEST_FIRST = (Sort("created_at", descending=True), Sort("id", descending=True))
ACTIVE = Filter("lifecycle_stage", FilterOp.eq, ("active",))


def _default_sort(query: ListQuery) -> tuple[Sort, ...]:
    """The shared `GET` parameters always sort (by `id` unless told): keep that; the search DSL may not."""
    return query.sort or NEWEST_FIRST


def _active_unless_asked(query: ListQuery) -> ListQuery:
    if any(f.field == "lifecycle_stage" for f in query.filters):
        return query
    return query.narrowed(ACTIVE)


def _check_mlflow(platform: Platform) -> None:
    if not platform.settings.mlflow_enabled:
        raise NotFound("MLflow is not enabled on this server (SWITCHYARD_MLFLOW_ENABLED=false).")


async def list_experiments(platform: Platform, query: ListQuery) -> Page[Experiment]:
    _check_mlflow(platform)
    found = await asyncio.to_thread(mlflow_catalog.experiments, platform.settings)
    return page_of(found, EXPERIMENT_FIELDS, _active_unless_asked(query), _default_sort(query))


async def get_experiment(platform: Platform, experiment_id: str) -> Experiment:
    _check_mlflow(platform)
    return await asyncio.to_thread(mlflow_catalog.experiment, platform.settings, experiment_id)


async def list_runs(platform: Platform, experiment_id: str, query: ListQuery) -> Page[Run]:
    _check_mlflow(platform)
    found = await asyncio.to_thread(mlflow_catalog.runs, platform.settings, experiment_id)
    return page_of(found, RUN_FIELDS, _active_unless_asked(query), _default_sort(query))


async def get_run(platform: Platform, run_id: str) -> Run:
    _check_mlflow(platform)
    return await asyncio.to_thread(mlflow_catalog.run, platform.settings, run_id)


async def list_logged_models(platform: Platform, query: ListQuery) -> Page[LoggedModel]:
    _check_mlflow(platform)
    found = await asyncio.to_thread(mlflow_catalog.logged_models, platform.settings)
    page = page_of(found, LOGGED_MODEL_FIELDS, query, _default_sort(query))
    described = await asyncio.to_thread(lambda: [mlflow_catalog.describe(platform.settings, m) for m in page.items])
    return Page(described, page.total, page.limit, page.offset)


async def get_logged_model(platform: Platform, model_id: str) -> LoggedModel:
    _check_mlflow(platform)

    def read() -> LoggedModel:
        return mlflow_catalog.describe(platform.settings, mlflow_catalog.logged_model(platform.settings, model_id))

    return await asyncio.to_thread(read)


async def input_example(platform: Platform, model_id: str) -> dict[str, Any]:
    """The model's logged input example as a V2 inference request (``{"id", "inputs": [...]}``), with the
    tensors named and typed as the ONNX graph declares them."""
    model = await get_logged_model(platform, model_id)
    if model.input_example is None:
        raise NotFound(f"The logged model '{model_id}' has no input example.", param="model_id")
    specs = (model.schema or {}).get("input") or []
    if not specs:
        raise NotFound(f"The logged model '{model_id}' declares no tensor inputs (not an ONNX model).")
    example = model.input_example
    if isinstance(example, dict) and {s["name"] for s in specs} <= set(example):
        values = {s["name"]: example[s["name"]] for s in specs}
    elif len(specs) == 1 and not isinstance(example, dict):
        values = {specs[0]["name"]: example}
    else:
        raise NotFound(f"The input example of '{model_id}' does not match the model's inputs.", param="model_id")
    inputs = []
    for spec in specs:
        array = np.asarray(values[spec["name"]])
        inputs.append(
            {
                "name": spec["name"],
                "shape": list(array.shape),
                "datatype": spec["datatype"],
                "data": array.ravel().tolist(),
            }
        )
    return {"id": model_id, "inputs": inputs}

"""Tensor inference on a deployment: find it (by name, within the caller's key scope), check the request
against the inputs and outputs of the model that serves, run it off the event loop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from switchyard.domain.tensors import Tensor, TensorRequest, TensorResponse, TensorSpec
from switchyard.errors import BadRequest, NotFound, UpstreamUnavailable
from switchyard.services.deployments_host import DeploymentHost, Hosted, Serving
from switchyard.services.principal import Principal


@dataclass(frozen=True, slots=True)
class Ready:
    """A deployment that serves, and the revision that answers."""

    hosted: Hosted
    serving: Serving

    @property
    def version(self) -> str:
        return str(self.serving.revision)


def find(host: DeploymentHost, principal: Principal, name: str) -> Hosted:
    """The deployment named ``name`` if the caller may use it; 404 alike for unknown and out of scope."""
    hosted = host.lookup(name)
    if hosted is None or not principal.may_use_router(hosted.name):
        raise NotFound(f"The model '{name}' does not exist or you do not have access to it.", code="model_not_found")
    return hosted


def ready(hosted: Hosted, version: str | None) -> Ready:
    """The serving revision (``version``, if given, must be it); 503 while nothing serves."""
    serving = hosted.serving
    if serving is None:
        raise UpstreamUnavailable(f"The model '{hosted.name}' is not ready: {hosted.not_ready_reason}.")
    if version is not None and version != str(serving.revision):
        raise NotFound(
            f"Version {version} of model '{hosted.name}' is not served; version {serving.revision} is.",
            code="model_not_found",
        )
    return Ready(hosted, serving)


def _describe(spec: TensorSpec) -> str:
    return f"'{spec.name}' ({spec.datatype} {list(spec.shape)})"


def check_inputs(model_name: str, specs: Sequence[TensorSpec], given: Sequence[Tensor]) -> dict[str, Tensor]:
    """The inputs by name, each matching the model's name, datatype and shape (``-1`` takes any size)."""
    by_name = {tensor.name: tensor for tensor in given}
    known = {spec.name for spec in specs}
    for tensor in given:
        if tensor.name not in known:
            expected = ", ".join(_describe(spec) for spec in specs)
            raise BadRequest(f"The model '{model_name}' has no input '{tensor.name}'; its inputs: {expected}.")
    for spec in specs:
        if spec.name not in by_name:
            raise BadRequest(f"The model '{model_name}' needs the input {_describe(spec)}.")
        tensor = by_name[spec.name]
        if tensor.datatype != spec.datatype:
            raise BadRequest(
                f"The input '{spec.name}' of model '{model_name}' is {spec.datatype}, not {tensor.datatype}."
            )
        fits = len(tensor.shape) == len(spec.shape) and all(
            want in (-1, got) for want, got in zip(spec.shape, tensor.shape, strict=True)
        )
        if not fits:
            raise BadRequest(
                f"The input '{spec.name}' of model '{model_name}' has shape {list(spec.shape)} (-1: any size); "
                f"got {list(tensor.shape)}."
            )
    return by_name


def check_outputs(model_name: str, specs: Sequence[TensorSpec], wanted: Sequence[str] | None) -> list[TensorSpec]:
    """The outputs to compute: those asked for, in that order, or all of them."""
    if wanted is None:
        return list(specs)
    by_name = {spec.name: spec for spec in specs}
    chosen = []
    for name in wanted:
        spec = by_name.get(name)
        if spec is None:
            names = ", ".join(by_name)
            raise BadRequest(f"The model '{model_name}' has no output '{name}'; its outputs: {names}.")
        chosen.append(spec)
    return chosen


async def infer(host: DeploymentHost, target: Ready, request: TensorRequest) -> TensorResponse:
    model = target.serving.model
    name = target.hosted.name
    inputs = check_inputs(name, model.inputs, request.inputs)
    outputs = check_outputs(name, model.outputs, request.outputs)
    arrays = await host.run(target.serving, inputs, [spec.name for spec in outputs])
    tensors = tuple(
        Tensor(spec.name, spec.datatype, tuple(int(d) for d in array.shape), array)
        for spec, array in zip(outputs, arrays, strict=True)
    )
    return TensorResponse(name, target.version, tensors, request.id)

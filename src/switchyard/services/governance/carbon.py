"""A request's energy and emissions, by the ecologits method (``compute_llm_impacts``), offline.

Inputs: the provider's total and active parameters (billions), the completion tokens generated, the request's
latency, its data centre's PUE and WUE, and the electricity mix of its hosting zone. A provider whose
parameters are not known gives no figure (None), never a made-up 0.
"""

from __future__ import annotations

import functools
import logging
from dataclasses import dataclass

from ecologits.electricity_mix_repository import ElectricityMix, electricity_mixes
from ecologits.impacts.llm import compute_llm_impacts
from ecologits.utils.range_value import RangeValue

from switchyard.domain.gateway import Provider

log = logging.getLogger(__name__)

WORLD = "WOR"


@dataclass(frozen=True, slots=True)
class Footprint:
    kwh: float
    kgco2eq: float


@functools.cache
def electricity_mix(zone: str) -> ElectricityMix:
    mix = electricity_mixes.find_electricity_mix(zone=zone)
    if mix is None:
        log.warning("no electricity mix for zone %r; the world average is used", zone)
        mix = electricity_mixes.find_electricity_mix(zone=WORLD)
    assert mix is not None
    return mix


def _value(value: float | RangeValue) -> float:
    return float(value.mean) if isinstance(value, RangeValue) else float(value)


def footprint(provider: Provider, completion_tokens: int, latency_seconds: float) -> Footprint | None:
    if provider.total_params_b is None or completion_tokens <= 0:
        return None
    active = provider.active_params_b if provider.active_params_b is not None else provider.total_params_b
    mix = electricity_mix(provider.hosting_zone)
    impacts = compute_llm_impacts(
        model_active_parameter_count=active,
        model_total_parameter_count=provider.total_params_b,
        output_token_count=completion_tokens,
        if_electricity_mix_adpe=mix.adpe,
        if_electricity_mix_pe=mix.pe,
        if_electricity_mix_gwp=mix.gwp,
        if_electricity_mix_wue=mix.wue,
        datacenter_pue=provider.datacenter_pue,
        datacenter_wue=provider.datacenter_wue,
        request_latency=latency_seconds,
    )
    return Footprint(kwh=_value(impacts.energy.value), kgco2eq=_value(impacts.gwp.value))

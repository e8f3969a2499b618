"""Wire formats by name, loaded lazily from the ``switchyard.wire_formats`` entry-point group."""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from switchyard.adapters.wire.base import WireAdapter

GROUP = "switchyard.wire_formats"


class UnknownWireFormat(LookupError):
    pass


@cache
def adapter(name: str) -> WireAdapter:
    for entry in entry_points(group=GROUP):
        if entry.name == name:
            factory = entry.load()
            instance: WireAdapter = factory()
            return instance
    raise UnknownWireFormat(f"no wire format named '{name}' is installed (entry-point group {GROUP})")


def available() -> list[str]:
    return sorted({entry.name for entry in entry_points(group=GROUP)})

"""The registered inverses: one module a CloudTrail event name, discovered by name.

Each module ``irkit/revert/inverses/<event_name>.py`` (``create_role`` for ``CreateRole``) defines
``INVERSE``, an :class:`irkit.revert.model.Inverse` whose ``event`` maps to the module's name; modules
whose name starts with ``_`` are helpers. A module whose inverse has another name, no permissions
(unless it undoes nothing: "not reversible"), or an example record of another event is refused.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Mapping
from functools import cache

from botocore import xform_name

from irkit.revert.model import Inverse, Reversibility


def module_name(event_name: str) -> str:
    """``CreateDBInstanceReadReplica`` → ``create_db_instance_read_replica`` (botocore's own rule)."""
    return str(xform_name(event_name))


@cache
def all_inverses() -> Mapping[str, Inverse]:
    """Every inverse by CloudTrail event name."""
    found: dict[str, Inverse] = {}
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{__name__}.{info.name}")
        inverse = getattr(module, "INVERSE", None)
        if not isinstance(inverse, Inverse):
            raise TypeError(f"{module.__name__} does not define INVERSE = <an Inverse>")
        if module_name(inverse.event) != info.name:
            raise ValueError(f"inverse of {inverse.event!r} lives in {info.name!r}, not {module_name(inverse.event)!r}")
        if not inverse.permissions and inverse.reversibility is not Reversibility.NOT_REVERSIBLE:
            raise ValueError(f"inverse of {inverse.event!r} declares no IAM permissions")
        if inverse.example.get("eventName") != inverse.event:
            raise ValueError(f"inverse of {inverse.event!r}: its example record is of another event")
        found[inverse.event] = inverse
    return dict(sorted(found.items()))


def inverse_for(event_name: str) -> Inverse | None:
    return all_inverses().get(event_name)


def permissions() -> tuple[str, ...]:
    """Every IAM action the registered inverses need, once each, sorted."""
    return tuple(sorted({p for inv in all_inverses().values() for p in inv.permissions}))

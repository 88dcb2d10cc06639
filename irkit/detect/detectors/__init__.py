"""The stateful detectors: one module a detector class, discovered by name (like the rules).

Each module ``irkit/detect/detectors/<id>.py`` defines one detector class and ``DETECTOR = <that class>``;
the module is named after the class's ``info.id``. A class that reports under several ids lists them in
``infos`` (its ``info`` first): its module is named after that first, primary id —
``secret_read_unusual`` also reports ``bedrock_invocation_unusual``. Modules whose name starts with
``_`` are helpers. The registry order is the rules' tactic order, then the id.

Each class keeps a compact trace of the few events it cares about and decides in ``finish()``.

```yaml
ec2_instance_burst:               >= 10 instances launched within 10 minutes by one principal
ec2_unusual_region:               launches in a region the agent otherwise (almost) never uses
iam_role_backdoor_sequence:       CreateRole -> admin policy on it -> access key, AssumeRole or use of it
iam_user_backdoor_sequence:       CreateUser -> CreateAccessKey for it -> that key used from a new IP
recon_access_denied_burst:        >= 10 denied calls on >= 4 APIs within 10 minutes
secret_read_unusual:              a secret read that is not routine (also bedrock_invocation_unusual)
ec2_instance_credentials_outside: an instance-profile session used from a network not the instance's
```
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from irkit.detect.detector import Detector, DetectorContext, DetectorInfo
from irkit.detect.rules import TACTIC_ORDER


@dataclass(frozen=True, slots=True)
class Registered:
    """One detector class as the registry found it."""

    module: str
    """The module's own name (``ec2_instance_burst``): the primary id."""
    make: Callable[[DetectorContext], Detector]
    infos: tuple[DetectorInfo, ...]
    """Every id the class reports under, the primary first."""


def _rank(entry: Registered) -> tuple[int, str]:
    tactic = entry.infos[0].tactic
    return (TACTIC_ORDER.index(tactic) if tactic in TACTIC_ORDER else len(TACTIC_ORDER), entry.module)


def discover(package: str, path: Iterable[str]) -> tuple[Registered, ...]:
    """Every detector of ``package`` (whose ``__path__`` is ``path``), checked and in registry order.

    Refused (an error at import, never a detector under a second name): a module without ``DETECTOR``,
    a class without ``info``, an ``infos`` that does not start with ``info``, a primary id that differs
    from the module name, an id two classes report under.
    """
    found: list[Registered] = []
    seen: dict[str, str] = {}
    for module_info in pkgutil.iter_modules(list(path)):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package}.{module_info.name}")
        cls = getattr(module, "DETECTOR", None)
        info = getattr(cls, "info", None)
        if not isinstance(cls, type) or not isinstance(info, DetectorInfo):
            raise TypeError(f"{module.__name__} does not define DETECTOR = <a detector class with info>")
        infos = tuple(getattr(cls, "infos", (info,)))
        if not infos or infos[0] is not info or not all(isinstance(i, DetectorInfo) for i in infos):
            raise TypeError(f"{module.__name__}: {cls.__name__}.infos must start with its info")
        if info.id != module_info.name:
            raise ValueError(f"detector id {info.id!r} differs from its module name {module_info.name!r}")
        for each in infos:
            if each.id in seen:
                raise ValueError(f"detector id {each.id!r} reported by {seen[each.id]} and {module.__name__}")
            seen[each.id] = module.__name__
        found.append(Registered(module_info.name, cls, infos))
    return tuple(sorted(found, key=_rank))


@cache
def registered() -> tuple[Registered, ...]:
    """The built-in detectors."""
    return discover(__name__, __path__)


def detector_modules() -> tuple[str, ...]:
    return tuple(info.name for info in pkgutil.iter_modules(__path__) if not info.name.startswith("_"))


def all_detector_infos() -> tuple[DetectorInfo, ...]:
    """Every id the detectors report under (a detector with ``infos``: one entry each), in registry order."""
    return tuple(info for entry in registered() for info in entry.infos)


DETECTORS: tuple[Callable[[DetectorContext], Detector], ...] = tuple(entry.make for entry in registered())
"""What the analyzer instantiates, one per analysis."""

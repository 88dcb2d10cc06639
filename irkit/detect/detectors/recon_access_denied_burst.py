"""``recon_access_denied_burst``: >= 10 denied calls on >= 4 APIs within 10 minutes."""

from __future__ import annotations

from typing import Any

from irkit.detect.detector import DetectorContext, DetectorInfo, Hit, TimeCells, finding, windows
from irkit.detect.detectors._common import at
from irkit.detect.event import Event
from irkit.detect.records import ATTACKER_IP, record
from irkit.detect.rule import Finding

DENIED_WINDOW_SECONDS = 600
DENIED_CALLS = 10
DENIED_DISTINCT_APIS = 4
DENIED_CODES = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "UnauthorizedOperation",
        "Client.UnauthorizedOperation",
        "UnauthorizedAccess",
        "AuthorizationError",
        "AuthorizationErrorException",
        "Forbidden",
        "NotAuthorized",
    }
)


def _denied(minutes: float, name: str, source: str) -> dict[str, Any]:
    return record(name, source, time=at(minutes), request={}, error="AccessDenied", read_only=True, ip=ATTACKER_IP)


_RECON = (
    ("ListUsers", "iam.amazonaws.com"),
    ("ListRoles", "iam.amazonaws.com"),
    ("GetAccountAuthorizationDetails", "iam.amazonaws.com"),
    ("ListSecrets", "secretsmanager.amazonaws.com"),
    ("DescribeDBInstances", "rds.amazonaws.com"),
    ("ListBuckets", "s3.amazonaws.com"),
)


class AccessDeniedBurst:
    info = DetectorInfo(
        id="recon_access_denied_burst",
        title="Burst of denied calls across many APIs (reconnaissance)",
        severity="medium",
        mitre=("T1580", "T1087.004", "T1526"),
        why="Someone probing what a stolen credential can do collects AccessDenied on API after API; "
        "a working agent calls the few APIs it is allowed to.",
        remediation="Treat the credential as compromised: contain it and review its successful calls.",
        tactic="discovery",
        positive=(tuple(_denied(i * 0.5, *_RECON[i % len(_RECON)]) for i in range(12)),),
        negative=(tuple(_denied(i * 30, *_RECON[i % len(_RECON)]) for i in range(12)),),
    )

    events: frozenset[str] | None = None
    failed_only = True
    alias_free = True
    """Its state (the context and a :class:`TimeCells`) holds no mutable object twice."""

    def __init__(self, context: DetectorContext) -> None:
        self._context = context
        self._cells = TimeCells()

    def feed(self, event: Event, attribution: str) -> None:
        if event.error_code in DENIED_CODES:
            self._cells.add(event.actor, event, attribution, tag=event.action)

    def merge(self, later: AccessDeniedBurst) -> None:
        """Exact: the denied calls are cells that add, their APIs a union (see :meth:`TimeCells.merge`)."""
        self._cells.merge(later._cells)

    def folded(self) -> list[str]:
        """What the bounds folded (the analysis says it)."""
        note = self._cells.note("recon_access_denied_burst")
        return [note] if note else []

    def size(self) -> int:
        """Items held: what stays bounded however many events are fed."""
        return self._cells.size()

    def finish(self) -> list[Finding]:
        found = []

        def enough(total: int, hits: list[Hit]) -> bool:  # called once the window holds DENIED_CALLS
            apis: set[str] = set()
            for hit in hits:
                apis |= hit.extra.tags
            return len(apis) >= DENIED_DISTINCT_APIS

        for actor in self._cells.subjects():
            hits = self._cells.hits(actor)
            for episode in windows(
                hits, seconds=DENIED_WINDOW_SECONDS, weight=lambda h: h.extra.count, minimum=DENIED_CALLS, enough=enough
            ):
                apis = sorted({api for h in episode for api in h.extra.tags})
                calls = sum(h.extra.count for h in episode)
                found.append(
                    finding(
                        self.info,
                        episode,
                        detail=f"{calls} denied calls on {len(apis)} APIs",
                        evidence={"denied_calls": calls, "apis": apis},
                        samples=self._cells.samples(actor, episode),
                    )
                )
        return found


DETECTOR = AccessDeniedBurst

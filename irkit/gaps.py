"""Coverage gaps: what irkit could not see or do, reported instead of raised.

A malformed log file, a missing permission or a throttled API becomes a :class:`Gap`; the run goes
on, the report names every gap, and the command exits 3 instead of 0.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Gap:
    path: str
    """What was not covered: a file, an ``s3://`` key, an ``iam:Action on arn``, a step id."""
    reason: str

    def to_json(self) -> dict[str, str]:
        return {"path": self.path, "reason": self.reason}


FOLD_LIMIT = 50
"""Named gaps kept by :func:`fold` by default; what is beyond is counted, not listed."""
PER_REASON = 5


def _reason_kind(reason: str) -> str:
    # "malformed record: missing eventTime" and "not valid JSON (line 1 column 3)" fold by their head:
    # the part before the first ':' or '(' is what the gap is, the rest is where.
    head = reason.split(":", 1)[0].split("(", 1)[0].strip()
    return head[:80] or "unknown"


def fold(gaps: Iterable[Gap], *, limit: int = FOLD_LIMIT, per_reason: int = PER_REASON) -> list[Gap]:
    """A bounded list of gaps, whatever the input: at most ``per_reason`` named gaps of each kind and
    ``limit`` in all, then one summary gap per kind (``"… and N more"``) with the count of the rest.

    Input order is kept for the named ones. A crafted archive can yield a gap per record; the journal,
    the report and ``--json`` output must not grow with it (the count is still said). Folding a
    folded list again keeps its counts: a summary gap adds what it stands for to its kind.
    """
    named: list[Gap] = []
    shown: Counter[str] = Counter()
    hidden: Counter[str] = Counter()
    first_hidden: dict[str, Gap] = {}
    for gap in gaps:
        kind = _reason_kind(gap.reason)
        earlier = _summary(gap)
        if earlier is not None:
            count, like = earlier
            hidden[kind] += count
            first_hidden.setdefault(kind, Gap(like, gap.reason))
            continue
        if shown[kind] < per_reason and len(named) < limit:
            shown[kind] += 1
            named.append(gap)
        else:
            hidden[kind] += 1
            first_hidden.setdefault(kind, gap)
    kinds = sorted(hidden, key=lambda k: (-hidden[k], k))
    keep = kinds[:limit]
    summary = [
        Gap(
            f"… and {hidden[k]} more" + (f" like {first_hidden[k].path}" if first_hidden[k].path else ""),
            f"{k} (folded: {hidden[k]} not listed)",
        )
        for k in keep
    ]
    rest = sum(hidden[k] for k in kinds[limit:])
    if rest:
        summary.append(Gap(f"… and {rest} more", f"{len(kinds) - limit} other kinds of gap (folded)"))
    return named + summary


def _summary(gap: Gap) -> tuple[int, str] | None:
    """``(count, like-path)`` of a summary gap that :func:`fold` made; None for a plain gap."""
    if not gap.path.startswith("… and "):
        return None
    number, _, rest = gap.path.removeprefix("… and ").partition(" more")
    if not number.isdigit():
        return None
    return int(number), rest.removeprefix(" like ")


def folded_count(gaps: Iterable[Gap]) -> int:
    """How many gaps a folded list stands for (each summary gap counts what it folded)."""
    total = 0
    for gap in gaps:
        if gap.path.startswith("… and "):
            number = gap.path.removeprefix("… and ").split(" ", 1)[0]
            total += int(number) if number.isdigit() else 1
        else:
            total += 1
    return total

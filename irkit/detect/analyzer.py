"""One streaming pass over events: attribution, indexed rules, stateful detectors, baseline.

```python
analyzer = Analyzer(principals=["arn:aws:iam::111111111111:role/agent-infra-optimizer"])
for event in iter_events(paths, stats):
    analyzer.feed(event)
analysis = analyzer.finish()
```

Per event the work is small: one attribution lookup, the rules indexed under the event's name (not
every rule), and a constant-time update of each detector's compact state. Nothing is read twice.

Events may arrive out of time order (an archive is read region folder by region folder): an event
that is not (yet) the agent's is parked, a bounded number per identity, and analysed as soon as an
earlier-read event makes its key or principal the agent's (a key created in us-east-1 and used in
ap-southeast-1, whose folder sorts first).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from irkit.detect.attribution import ALL_PRINCIPALS, CHAIN_EVENTS, Attributor, ChainLink
from irkit.detect.baseline import Baseline, BaselineMonitor
from irkit.detect.detector import Detector, DetectorContext
from irkit.detect.detectors import DETECTORS
from irkit.detect.event import Event, format_time
from irkit.detect.inventory import Inventory, InventoryResult
from irkit.detect.names import base_name
from irkit.detect.rule import SEVERITIES, Finding, Rule, Severity, lower
from irkit.detect.rules import all_rules, index_rules
from irkit.detect.sigma import SigmaRuleSet

PARKED_PER_IDENTITY = 200
PARKED_TOTAL = 20_000
MAX_RULE_EVENT_IDS = 1_000
MAX_RULE_EVENT_IDS_TOTAL = 20_000
"""Event ids the rule groups list in all; past it a group lists at most :data:`FOLDED_RULE_EVENT_IDS`
(its count stays exact), and the analysis says so (``Analysis.folded``)."""
FOLDED_RULE_EVENT_IDS = 1
MAX_DETAILS_PER_RULE = 100
"""Distinct details (one finding each) a rule reports for one principal; further hits of that rule
and principal fold into one finding, so the findings (and memory) stay bounded by principals."""
FOLDED = "\x00folded"
Feed = Callable[[Event, str], None]


@dataclass(frozen=True)
class Analysis:
    events: int
    """Every event fed."""
    attributed: int
    """Events analysed: the agent's (or every event without principals)."""
    findings: list[Finding]
    """Sorted by first_seen, then severity (most severe first)."""
    chain: list[ChainLink]
    principals_seen: dict[str, int] = field(default_factory=dict)
    """Actor ARN → analysed events."""
    parked_unresolved: int = 0
    """Events parked for late attribution that never became the agent's (not analysed)."""
    parked_dropped: int = 0
    """Events that could not be parked (bounds reached); a late attribution may have missed them."""
    errors: list[str] = field(default_factory=list)
    """A rule that raised on an event: named here, analysis went on."""
    inventory: InventoryResult = field(default_factory=InventoryResult)
    """Every successful change by the analysed principals and every secret they read (not findings)."""
    folded: list[str] = field(default_factory=list)
    """What a detector's bounds folded (state stays bounded whatever the archive): each said once."""

    def flagged_event_ids(self) -> set[str]:
        return {eid for f in self.findings for eid in f.event_ids}

    def findings_json(self) -> list[dict[str, Any]]:
        """The findings as ``analyze --json`` and ``findings.json`` carry them: the DESIGN.md keys
        (:meth:`Finding.to_contract`) plus first_seen, detail, attribution and evidence. The one serializer."""
        return [
            {
                **f.to_contract(),
                "first_seen": format_time(f.first_seen),
                "detail": f.detail,
                "attribution": f.attribution,
                "evidence": dict(f.evidence),
            }
            for f in self.findings
        ]

    def findings_chunks(self, per_chunk: int = 1_000) -> Iterator[bytes]:
        """:meth:`findings_json` already serialized, as the JSON arrays of consecutive slices of
        findings: orjson writes them straight from the dataclasses — the same keys in the same order,
        the same UTC times (``tests/detect/test_commands.py`` holds the two equal) — without a dict
        per finding (19,707 findings: 0.3 s of dicts), and a writer joins the slices (``analyze
        --json``) without the whole document in one buffer (33k findings at 1M events: ~20 MB)."""
        option = orjson.OPT_UTC_Z | orjson.OPT_OMIT_MICROSECONDS
        for start in range(0, len(self.findings), per_chunk):
            yield orjson.dumps(self.findings[start : start + per_chunk], option=option)

    def to_json(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "attributed": self.attributed,
            "findings": self.findings_json(),
            "chain": [link.to_json() for link in self.chain],
            "principals_seen": dict(self.principals_seen),
            "inventory": self.inventory.to_json(),
            "folded": list(self.folded),
        }


MAX_ROUTES = 10_000
"""Distinct event names whose route is remembered (a planted log may name millions)."""


@dataclass(frozen=True, slots=True)
class _Route:
    rules: tuple[Rule, ...]
    """The rules indexed under the name, then the every-event rules (and Sigma's)."""
    feeds: tuple[Feed, ...]
    """The inventory, the every-event detectors (and the baseline monitor), the name's detectors."""
    chain: bool
    """A credential-creating call: the attributor learns from it even unfiltered."""
    named: tuple[Feed, ...] = ()
    """The name's detectors alone (:meth:`Analyzer.feed_file` feeds the others a file at a time)."""
    identity_rules: Mapping[str, tuple[Rule, ...]] = field(default_factory=dict)
    """An identity type some rule is limited to (:attr:`Rule.identities`) → the rules an event of
    that type runs instead of ``rules`` (the root user's calls: ``rules`` plus root_user_activity)."""
    idle: bool = False
    """No rule (but for the identity types of ``identity_rules``), no detector of the name, no chain:
    a successful call of another identity type is the every-event consumers' alone, and
    :meth:`Analyzer.feed_file` does not call :meth:`Analyzer._analyse_routed` for it (the bulk of a
    trail's reads; 60 files of the typical mix: 1,200 instructions an event, ~2 % of the pass)."""


@dataclass(slots=True)
class Share:
    """What :meth:`Analyzer.merge` needs of another analyzer: its counts, rule groups (rules by id,
    so the whole crosses a process boundary by pickle), attributor, detectors, inventory, monitor."""

    events: int
    attributed: int
    principals: Counter[str]
    errors: list[str]
    groups: list[tuple[tuple[str, str, bool, str], str, bool, datetime, str | None, str, list[str], Severity, int]]
    attributor: Attributor
    detectors: list[Detector]
    inventory: Inventory
    monitor: BaselineMonitor | None


@dataclass(slots=True)
class _ShareHeader:
    """The first of a share's parts: what is checked before anything is merged, and the counts."""

    detectors: list[str]
    monitor: bool
    rule_ids: set[str]
    group_parts: int
    """The rule groups follow in this many parts (a few thousand each: one part's pickling at a time)."""
    events: int
    attributed: int
    principals: Counter[str]
    errors: list[str]
    attributor: Attributor


GROUPS_PER_PART = 4_000
SHARE_END = "irkit-share-end"
"""The last of a share's parts: a share cut short (a worker that died writing it) is refused."""


def share_parts(share: Share) -> Iterator[Any]:
    """A share as parts to pickle one after another (:meth:`Analyzer.merge_parts` takes them in
    this order): its header, its rule groups, each detector, the inventory, the monitor and
    :data:`SHARE_END`. The share lets go of each part as it is handed on (``share`` is consumed),
    so a worker pickling them holds one part's pickling state at a time, not the whole."""
    groups, share.groups = share.groups, []
    header = _ShareHeader(
        [type(d).__name__ for d in share.detectors], share.monitor is not None, {g[1] for g in groups},
        -(-len(groups) // GROUPS_PER_PART), share.events, share.attributed, share.principals, share.errors,
        share.attributor,
    )  # fmt: skip
    yield header
    del header
    groups.reverse()  # handed on from the end: each part let go of as soon as it is taken
    while groups:
        part = [groups.pop() for _ in range(min(GROUPS_PER_PART, len(groups)))]
        yield part
        del part
    while share.detectors:
        yield share.detectors.pop(0)
    yield share.inventory
    yield share.monitor
    yield SHARE_END


def alias_free(part: Any) -> bool:
    """Whether a part of :func:`share_parts` may be pickled without pickle's memo: a detector whose
    class says it holds no mutable object twice (``alias_free = True``; ``tests/perf/
    test_share_pickle.py`` walks each one's state to hold it to that). The memo keeps every object
    it meets, and every temporary their pickling makes, alive until the part is written: ~10 MB for
    a burst detector's bounded cells at 5M events, on top of the state. Without it a string the
    part shares is written once a use, and read back as copies."""
    return getattr(type(part), "alias_free", False) is True


@dataclass(slots=True)
class _RuleGroup:
    """One future finding: what it needs of its events, never the events themselves (a kept
    Event holds its whole parsed record, and distinct groups can number in the hundred thousands)."""

    rule: Rule
    attempt: bool
    first_time: datetime
    first_error: str | None
    attribution: str
    ids: list[str]
    severity: Severity
    count: int = 0


class Analyzer:
    """Feed events one by one; ``finish()`` returns the :class:`Analysis`.

    Without ``principals`` every event is analysed and a finding's ``principal`` is the actor. With
    ``principals`` (or, when absent, the principals a given ``baseline`` was learned for) only the
    agent's events are analysed, including those of credentials and principals it created.
    """

    def __init__(
        self,
        *,
        principals: Sequence[str] | None = None,
        baseline: Baseline | None = None,
        rules: Sequence[Rule] | None = None,
        sigma: SigmaRuleSet | None = None,
    ) -> None:
        if principals is None and baseline is not None and baseline.principals:
            principals = baseline.principals
        self._rules = tuple(rules) if rules is not None else all_rules()
        by_name, self._wildcard = index_rules(self._rules)
        # each name's rules already followed by the every-event rules: no tuple built per event
        self._by_name = {name: rules + self._wildcard for name, rules in by_name.items()}
        self._attributor = Attributor(list(principals) if principals is not None else None)
        self._filtering = self._attributor.filtering
        context = DetectorContext(
            filtering=self._attributor.filtering,
            known_regions=frozenset(baseline.regions) if baseline is not None else None,
            baseline=baseline,
        )
        self._detectors: list[Detector] = [make(context) for make in DETECTORS]
        self._monitor = BaselineMonitor(baseline) if baseline is not None else None
        # Sigma rules (a second rule source) and the change inventory ride the same pass.
        self._sigma = sigma if sigma is not None and sigma.rules else None
        self._inventory = Inventory()
        # Detectors are fed by what they declare: every event, events of some names, failed calls.
        self._every: list[Feed] = []
        self._by_event: dict[str, list[Feed]] = {}
        self._failed: list[Feed] = []
        for detector in self._detectors:
            if detector.failed_only:
                self._failed.append(detector.feed)
            elif detector.events is None:
                self._every.append(detector.feed)
            else:
                for name in detector.events:
                    self._by_event.setdefault(name, []).append(detector.feed)
        if self._monitor is not None:
            self._every.append(self._monitor.feed)
        self._file_feeds = [_file_feed(feed) for feed in (self._inventory.feed, *self._every)]
        """The every-event consumers as :meth:`feed_file` feeds them: each consumer's own
        ``feed_file`` (the loop inside it, its state at hand: ~25 % less time than a call an
        event), else its ``feed`` of each event."""
        self._routes: dict[str, _Route] = {}
        self._groups: dict[tuple[str, str, bool, str], _RuleGroup] = {}
        self._details: dict[tuple[str, str, bool], int] = {}
        self._ids_held = 0
        """Event ids the rule groups list (:data:`MAX_RULE_EVENT_IDS_TOTAL`)."""
        self._parked: dict[str, list[Event]] = {}
        self._parked_total = 0
        self._woken: set[str] = set()
        self._parked_dropped = 0
        self._principals: Counter[str] = Counter()
        self._errors: list[str] = []
        self.events = 0
        self.attributed = 0

    def feed(self, event: Event) -> None:
        self.events += 1
        if not self._filtering:
            # every event is analysed and nothing is ever parked: the straight path
            self._analyse_one(event, ALL_PRINCIPALS)
            return
        reason = self._attributor.attribute(event)
        if reason is None:
            self._park(event)
            return
        self._analyse(event, reason)

    def feed_file(self, events: Sequence[Event]) -> None:
        """Feed a file's events (in order): what :meth:`feed` of each, one after the other, does.

        Unfiltered, nothing depends on an event but its own analysis, so each every-event consumer
        (the inventory, those detectors, the baseline monitor) takes the whole file in one loop of
        its own, after the rules and the name's detectors took each event: every consumer sees the
        same events in the same order; only the interleaving between consumers differs, and they
        share no state. 200k bench: ~20 % less time in the analysis than event by event (each
        consumer's state stays in the cache, and one call a consumer and event is saved). With
        principals to follow, attribution learns event by event: :meth:`feed` each."""
        if self._filtering:
            for event in events:
                self.feed(event)
            return
        self.events += len(events)
        self.attributed += len(events)
        # what _analyse_one counts, a file at a time (the same counts, first met in the same order)
        self._principals.update([event.issuer_arn or event.principal_arn for event in events])
        why = ALL_PRINCIPALS
        routes, route_of, analyse = self._routes, self._route, self._analyse_routed
        for event in events:
            route = routes.get(event.event_name) or route_of(event.event_name)
            if route.idle and not event.error_code and event.identity_type not in route.identity_rules:
                continue  # _analyse_routed would do nothing (a failed call goes to the failed-call feeds)
            analyse(event, why, route, route.named)
        for feed in self._file_feeds:
            feed(events, why)

    # -- internals -------------------------------------------------------------------------------
    def _park(self, event: Event) -> None:
        """Keep an event that may become the agent's once an identity it names is attributed."""
        if self._parked_total >= PARKED_TOTAL:
            self._parked_dropped += 1
            return
        parked = False
        kept: Event | None = None
        for key in self._attributor.lookup_keys(event):
            bucket = self._parked.setdefault(key, [])
            if len(bucket) < PARKED_PER_IDENTITY:
                if kept is None:
                    kept = event.detached()  # kept beyond its file: its own bytes, not the file's
                bucket.append(kept)
                parked = True
        if parked:
            self._parked_total += 1
        else:
            self._parked_dropped += 1

    def _analyse(self, event: Event, reason: str) -> None:
        pending = [(event, reason)]
        attributor = self._attributor
        while pending:
            current, why = pending.pop()
            for identifier in self._analyse_one(current, why):
                for parked in self._parked.pop(identifier, ()):
                    if parked.event_id in self._woken:
                        continue
                    late = attributor.attribute(parked)
                    if late is not None:
                        self._woken.add(parked.event_id)
                        self._parked_total -= 1
                        pending.append((parked, late))

    def _route(self, event_name: str) -> _Route:
        """What an event of this name goes to: worked out once per distinct name."""
        name = base_name(event_name)
        rules = self._by_name.get(name, self._wildcard)
        if self._sigma is not None:
            rules = rules + self._sigma.candidates(name)
        # rules that match only some identity types: each type named gets its own list (the same
        # rules in the same order, less those that cannot match it); any other type, the rest
        kinds = {kind for rule in rules for kind in rule.identities}
        identity_rules = {kind: tuple(r for r in rules if not r.identities or kind in r.identities) for kind in kinds}
        if kinds:
            rules = tuple(r for r in rules if not r.identities)
        named = tuple(self._by_event.get(name, ()))
        chain = event_name in CHAIN_EVENTS
        route = _Route(
            rules, (self._inventory.feed, *self._every, *named), chain, named, identity_rules,
            idle=not rules and not named and not chain,
        )  # fmt: skip
        if len(self._routes) < MAX_ROUTES:
            self._routes[event_name] = route
        return route

    def _analyse_one(self, event: Event, why: str) -> Sequence[str]:
        """Analyse one attributed event; returns the identifiers it made attributable."""
        self.attributed += 1
        actor = event.issuer_arn or event.principal_arn
        principals = self._principals
        principals[actor] = principals.get(actor, 0) + 1
        route = self._routes.get(event.event_name) or self._route(event.event_name)
        return self._analyse_routed(event, why, route, route.feeds)

    def _analyse_routed(self, event: Event, why: str, route: _Route, feeds: tuple[Feed, ...]) -> Sequence[str]:
        """:meth:`_analyse_one` past the counting: the chain, the rules, ``feeds`` (the route's, or
        only its name's detectors when :meth:`feed_file` feeds the rest), the failed-call feeds."""
        learned: Sequence[str] = ()
        # Only the agent's own learning (filtering) or the few credential-creating calls can grow
        # the chain: the bulk of the traffic skips the call.
        if self._filtering or route.chain:
            learned = self._attributor.observe(event, why)
        rules = route.rules
        if route.identity_rules:
            rules = route.identity_rules.get(event.identity_type, rules)
        if rules:
            self._run_rules(event, rules, why)
        for feed in feeds:
            feed(event, why)
        if event.error_code:
            for feed in self._failed:
                feed(event, why)
        return learned

    def _run_rules(self, event: Event, candidates: tuple[Rule, ...], reason: str) -> None:
        failed = bool(event.error_code)
        for rule in candidates:
            if failed and rule.failed_calls == "ignore":
                continue
            try:
                if not rule.match(event):
                    continue  # nearly every rule on nearly every event: nothing else asked
                detail = rule.describe(event) if rule.describe is not None else ""
                severity = rule.severity_of(event) if rule.severity_of is not None else rule.severity
            except Exception as exc:
                self._errors.append(
                    f"rule {rule.id} failed on event {event.event_id}: {type(exc).__name__}: {exc}"
                )
                continue
            attempt = failed and rule.failed_calls == "attempt"
            actor = event.issuer_arn or event.principal_arn
            key = (rule.id, actor, attempt, detail)
            group = self._groups.get(key)
            if group is None:
                family = (rule.id, actor, attempt)
                distinct = self._details.get(family, 0)
                if distinct >= MAX_DETAILS_PER_RULE:
                    # one more distinct detail for a rule and principal: fold it, keep counting
                    key = (rule.id, actor, attempt, FOLDED)
                    group = self._groups.get(key)
                else:
                    self._details[family] = distinct + 1
            if group is None:
                group = self._groups[key] = _RuleGroup(
                    rule, attempt, event.event_time, event.error_code, reason, [], severity
                )
            elif event.event_time < group.first_time:
                group.first_time = event.event_time
                group.first_error = event.error_code
                group.attribution = reason
            group.count += 1
            if severity != group.severity and SEVERITIES.index(severity) > SEVERITIES.index(group.severity):
                group.severity = severity
            if self._id_room(len(group.ids)) > 0:
                group.ids.append(event.event_id)
                self._ids_held += 1

    @property
    def mergeable(self) -> bool:
        """Whether :meth:`merge` applies: an unfiltered analysis (every event analysed, nothing
        parked). A filtered one attributes by what earlier events taught it: it runs in one pass."""
        return not self._filtering

    def share(self) -> Share:
        """This analyzer's state, to be merged into another's (picklable: rules go by id)."""
        if not self.mergeable:
            raise ValueError("a filtered analysis does not merge: it attributes events in file order")
        groups = [
            (key, g.rule.id, g.attempt, g.first_time, g.first_error, g.attribution, g.ids, g.severity, g.count)
            for key, g in self._groups.items()
        ]
        return Share(
            self.events, self.attributed, self._principals, self._errors, groups, self._attributor,
            self._detectors, self._inventory, self._monitor,
        )  # fmt: skip

    def merge(self, later: Analyzer | Share) -> None:
        """Fold in ``later``: an analyzer built alike (or its :meth:`share`) that was fed the events
        read *after* this one's (another process's share of the files). ``finish()`` then returns the
        analysis of one analyzer fed both shares in that order — exactly, while no bound was reached;
        at a bound (``MAX_DETAILS_PER_RULE``, the detectors' and the inventory's limits) the state
        stays bounded and keeps this share's values first. ``later`` is consumed."""
        self.merge_parts(share_parts(later.share() if isinstance(later, Analyzer) else later))

    def merge_parts(self, parts: Iterator[Any]) -> None:
        """:meth:`merge` of a share given as its :func:`share_parts`, one part at a time: a share
        read from another process is merged part by part, each dropped once merged, so the whole
        of it is never held here twice (unpickled and merged). The first part is checked first:
        a share of an analyzer built differently is refused before anything is merged."""
        if not self.mergeable:
            raise ValueError("a filtered analysis does not merge: it attributes events in file order")
        header = next(parts)
        if (
            not isinstance(header, _ShareHeader)
            or header.detectors != [type(d).__name__ for d in self._detectors]
            or header.monitor != (self._monitor is not None)
        ):
            raise ValueError("analyzers built differently do not merge")
        rules = {rule.id: rule for rule in self._rules}
        if self._sigma is not None:
            rules.update((rule.id, rule) for rule in self._sigma.rules)
        if any(rule_id not in rules for rule_id in header.rule_ids):
            raise ValueError("a rule of the later share is not one of this analyzer's")
        self.events += header.events
        self.attributed += header.attributed
        self._principals.update(header.principals)
        self._errors.extend(header.errors)
        self._attributor.merge(header.attributor)
        group_parts = header.group_parts
        del header
        for _ in range(group_parts):
            for key, rule_id, attempt, first, error, attribution, ids, severity, count in next(parts):
                group = _RuleGroup(rules[rule_id], attempt, first, error, attribution, ids, severity, count)
                self._merge_group(key, group)
        for mine in self._detectors:
            theirs = next(parts)
            if type(mine) is not type(theirs):
                raise ValueError("analyzers built differently do not merge")
            mine.merge(theirs)
            del theirs
        self._inventory.merge(next(parts))
        monitor = next(parts)
        if self._monitor is not None and monitor is not None:
            self._monitor.merge(monitor)
        if next(parts, None) != SHARE_END:
            raise ValueError("the later share ended early")

    def _merge_group(self, key: tuple[str, str, bool, str], theirs: _RuleGroup) -> None:
        """One of a later share's rule groups, as if its events had followed this share's."""
        mine = self._groups.get(key)
        rule_id, actor, attempt, detail = key
        if mine is None and detail != FOLDED:
            family = (rule_id, actor, attempt)
            distinct = self._details.get(family, 0)
            if distinct >= MAX_DETAILS_PER_RULE:
                key = (rule_id, actor, attempt, FOLDED)
                mine = self._groups.get(key)
            else:
                self._details[family] = distinct + 1
        if mine is None:
            del theirs.ids[self._id_room(0) :]
            self._ids_held += len(theirs.ids)
            self._groups[key] = theirs
            return
        mine.count += theirs.count
        if theirs.first_time < mine.first_time:  # a tie keeps the earlier-read event, as one pass does
            mine.first_time, mine.first_error = theirs.first_time, theirs.first_error
            mine.attribution = theirs.attribution
        if SEVERITIES.index(theirs.severity) > SEVERITIES.index(mine.severity):
            mine.severity = theirs.severity
        room = self._id_room(len(mine.ids))
        if room > 0:
            mine.ids.extend(theirs.ids[:room])
            self._ids_held += min(room, len(theirs.ids))

    def _id_room(self, listed: int) -> int:
        """How many more ids a group listing ``listed`` may take: up to its own bound while the
        total has room, else up to :data:`FOLDED_RULE_EVENT_IDS` (one rule for a pass and a merge)."""
        room = min(MAX_RULE_EVENT_IDS - listed, MAX_RULE_EVENT_IDS_TOTAL - self._ids_held)
        return max(room, FOLDED_RULE_EVENT_IDS - listed, 0)

    def _folded_ids(self) -> list[str]:
        if self._ids_held < MAX_RULE_EVENT_IDS_TOTAL:
            return []
        return [
            f"rule findings: past {MAX_RULE_EVENT_IDS_TOTAL:,} event ids listed in all, a finding lists no more "
            f"ids once it lists {FOLDED_RULE_EVENT_IDS:,} (its events count stays exact)"
        ]

    def state_size(self) -> int:
        """Items the analyzer holds between events (groups and their ids, parked events, counters,
        detector state): what must stay bounded by principals, values and time, not by events."""
        size = len(self._groups) + sum(len(g.ids) for g in self._groups.values()) + len(self._details)
        size += self._parked_total + len(self._woken) + len(self._principals)
        size += sum(detector.size() for detector in self._detectors) + self._inventory.size()
        if self._monitor is not None:
            size += self._monitor.size()
        return size

    def finish(self) -> Analysis:
        findings: list[Finding] = []
        for (_, actor, attempt, detail), group in self._groups.items():
            rule = group.rule
            if detail == FOLDED:
                detail = (
                    f"{group.count} more call(s) with other details than the "
                    f"{MAX_DETAILS_PER_RULE} reported for this principal"
                )
            findings.append(
                Finding(
                    rule_id=rule.id,
                    severity=lower(group.severity) if attempt else group.severity,
                    title=f"Attempted: {rule.title}" if attempt else rule.title,
                    event_ids=tuple(group.ids),
                    principal=actor,
                    mitre=rule.mitre,
                    first_seen=group.first_time,
                    detail=detail,
                    attribution=group.attribution,
                    evidence={**rule.evidence, "events": group.count, "error_code": group.first_error}
                    if attempt
                    else {**rule.evidence, "events": group.count},
                )
            )
        for detector in self._detectors:
            findings.extend(detector.finish())
        if self._monitor is not None:
            findings.extend(self._monitor.finish())
        findings.sort(key=lambda f: (f.first_seen, -SEVERITIES.index(f.severity), f.rule_id))
        return Analysis(
            events=self.events,
            attributed=self.attributed,
            findings=findings,
            chain=sorted(self._attributor.chain, key=lambda c: (c.event_time, c.event_id)),
            principals_seen=dict(self._principals.most_common()),
            parked_unresolved=self._parked_total,
            parked_dropped=self._parked_dropped,
            errors=list(self._errors),
            inventory=self._inventory.finish(),
            folded=self._folded_ids() + [note for detector in self._detectors for note in _folded(detector)],
        )


def _file_feed(feed: Feed) -> Callable[[Sequence[Event], str], None]:
    """``feed``'s consumer's ``feed_file`` (a file's events, in order), or ``feed`` of each event."""
    whole: Callable[[Sequence[Event], str], None] | None = getattr(getattr(feed, "__self__", None), "feed_file", None)
    if whole is not None:
        return whole

    def each(events: Sequence[Event], why: str) -> None:
        for event in events:
            feed(event, why)

    return each


def _folded(detector: Detector) -> list[str]:
    """A detector's ``folded()`` notes (the detectors with bounded per-address tables have one)."""
    notes = getattr(detector, "folded", None)
    return list(notes()) if callable(notes) else []

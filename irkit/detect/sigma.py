"""Sigma rules for CloudTrail: a second rule source, evaluated in the same streaming pass.

```
irkit analyze evidence/ --sigma rules/sigma          # or detection.sigma_dirs in irkit.yaml
```
Only rules whose ``logsource`` is ``product: aws, service: cloudtrail`` apply; rules for other log
sources are counted as skipped (they are not CloudTrail rules, nothing is missed). A CloudTrail rule
that uses a feature this evaluator does not implement is **refused by name** — a :class:`Gap` with the
file and the reason — never loaded half-understood and never silently dropped.

Supported: dotted field paths into the record (``requestParameters.ipPermissions.items.ipRanges.items.cidrIp``;
lists along the path match if any element does; a key missing in the exact case is looked up
case-insensitively), ``*``/``?`` wildcards with ``\\`` escapes, value lists (any; ``|all``: every),
``null``, the modifiers ``contains``, ``startswith``, ``endswith``, ``all``, ``re`` (with ``i``, ``m``,
``s``), ``cidr``, ``exists``, ``cased``, ``gt``/``gte``/``lt``/``lte``, and conditions with ``and``,
``or``, ``not``, parentheses, ``1 of``/``any of``/``N of``/``all of`` a name, a ``name*`` pattern or
``them``. Matching is case-insensitive unless ``cased`` (Sigma's default). Refused: keyword (field-less)
searches, aggregations (``| count()``), ``near``, ``timeframe``, correlation rules and rule collections
(``action:``), the encoding modifiers (``base64``, ``base64offset``, ``utf16*``, ``wide``, ``windash``),
``fieldref`` and ``expand``.

A finding of a Sigma rule carries ``rule_id`` ``sigma:<rule id>``, the rule's title, a severity from its
``level`` (informational → low), ATT&CK ids from its ``attack.tNNNN`` tags, and in its evidence the
rule's author, references, licence and file (the rules' licence, the DRL, requires attribution).

Everything here is pure except :func:`load_sigma`, which reads the YAML files and returns the gaps.
"""

from __future__ import annotations

import fnmatch
import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from irkit.detect.event import Event
from irkit.detect.names import base_name
from irkit.detect.rule import Rule, Severity
from irkit.gaps import Gap, fold

MAX_FILE_BYTES = 1 << 20
MAX_VALUE_CHARS = 65_536
"""A record value longer than this is matched on its first this-many characters (bounded work)."""
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$")
_TECHNIQUE_TAG = re.compile(r"^attack\.(t\d{4}(?:\.\d{3})?)$", re.I)
LEVELS: Mapping[str, Severity] = {
    "informational": "low",
    "low": "low",
    "medium": "medium",
    "high": "high",
    "critical": "critical",
}
_UNSUPPORTED_MODIFIERS = {
    "base64": "the base64 modifier (encoded values do not occur in CloudTrail fields)",
    "base64offset": "the base64offset modifier",
    "utf16": "the utf16 modifier",
    "utf16le": "the utf16le modifier",
    "utf16be": "the utf16be modifier",
    "wide": "the wide modifier",
    "windash": "the windash modifier (Windows command lines)",
    "fieldref": "the fieldref modifier (comparing two fields)",
    "expand": "the expand modifier (placeholders)",
}
_TACTICS = {
    "initial-access",
    "execution",
    "persistence",
    "privilege-escalation",
    "defense-evasion",
    "credential-access",
    "discovery",
    "lateral-movement",
    "collection",
    "exfiltration",
    "command-and-control",
    "impact",
}

Matcher = Callable[[Mapping[str, Any]], bool]


class SigmaUnsupported(ValueError):
    """A rule uses a Sigma feature this evaluator does not implement (the message says which)."""


class _Skip(Exception):
    """Not a CloudTrail rule."""


# -- field values ------------------------------------------------------------------------------------
def _resolve(record: Mapping[str, Any], parts: Sequence[str]) -> list[Any]:
    """Every value at a dotted path; lists anywhere along the path fan out."""
    current: list[Any] = [record]
    for part in parts:
        following: list[Any] = []
        for node in current:
            if isinstance(node, list):
                candidates = [n for n in node if isinstance(n, Mapping)]
            elif isinstance(node, Mapping):
                candidates = [node]
            else:
                continue
            for mapping in candidates:
                if part in mapping:
                    following.append(mapping[part])
                    continue
                lowered = part.lower()
                for key, value in mapping.items():
                    if isinstance(key, str) and key.lower() == lowered:
                        following.append(value)
                        break
        current = following
        if not current:
            return []
    leaves: list[Any] = []
    for value in current:
        if isinstance(value, list):
            leaves.extend(value)
        else:
            leaves.append(value)
    return leaves


def _text(value: Any) -> str | None:
    """A record value as Sigma compares it: strings, numbers and booleans; containers never match."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value[:MAX_VALUE_CHARS]
    if isinstance(value, int | float):
        return str(value)
    return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value.strip())
        except ValueError:
            return None
    return None


def _wildcard_regex(value: str, *, prefix: bool, suffix: bool) -> str:
    """Sigma's ``*``/``?`` wildcards (``\\*``, ``\\?``, ``\\\\`` escape them) as a regular expression."""
    out: list[str] = [".*"] if prefix else []
    i = 0
    while i < len(value):
        char = value[i]
        if char == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            out.append(re.escape(value[i + 1]))
            i += 2
            continue
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        else:
            out.append(re.escape(char))
        i += 1
    if suffix:
        out.append(".*")
    return "".join(out)


def _has_wildcard(value: str) -> bool:
    i = 0
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in "*?\\":
            i += 2
            continue
        if value[i] in "*?":
            return True
        i += 1
    return False


def _unescape(value: str) -> str:
    return re.sub(r"\\([*?\\])", r"\1", value)


ValueTest = Callable[[Any], bool]


def _string_test(value: str, modifiers: set[str]) -> ValueTest:
    cased = "cased" in modifiers
    prefix = "contains" in modifiers or "endswith" in modifiers
    suffix = "contains" in modifiers or "startswith" in modifiers
    if not prefix and not suffix and not _has_wildcard(value):
        plain = _unescape(value)
        if cased:
            return lambda v: _text(v) == plain
        folded = plain.casefold()
        return lambda v: (t := _text(v)) is not None and t.casefold() == folded
    pattern = re.compile(
        _wildcard_regex(value, prefix=prefix, suffix=suffix), re.DOTALL | (0 if cased else re.IGNORECASE)
    )
    return lambda v: (t := _text(v)) is not None and pattern.fullmatch(t) is not None


def _value_test(value: Any, modifiers: set[str], field: str) -> ValueTest:
    if isinstance(value, Mapping | list):
        raise SigmaUnsupported(f"field {field!r}: nested values (a mapping or list inside a value list)")
    if "re" in modifiers:
        if not isinstance(value, str):
            raise SigmaUnsupported(f"field {field!r}: |re needs a string")
        flags = (
            (re.I if "i" in modifiers else 0) | (re.M if "m" in modifiers else 0) | (re.S if "s" in modifiers else 0)
        )
        try:
            regex = re.compile(value, flags)
        except re.error as exc:
            raise SigmaUnsupported(f"field {field!r}: regular expression does not compile ({exc})") from None
        return lambda v: (t := _text(v)) is not None and regex.search(t) is not None
    if "cidr" in modifiers:
        try:
            network = ipaddress.ip_network(str(value), strict=False)
        except ValueError:
            raise SigmaUnsupported(f"field {field!r}: {value!r} is not a CIDR block") from None

        def in_network(v: Any) -> bool:
            if not isinstance(v, str):
                return False
            try:
                return ipaddress.ip_address(v.strip()) in network
            except ValueError:
                return False

        return in_network
    compare = modifiers & {"gt", "gte", "lt", "lte"}
    if compare:
        bound = _number(value)
        if bound is None:
            raise SigmaUnsupported(f"field {field!r}: |{next(iter(compare))} needs a number")
        op = next(iter(compare))
        checks: dict[str, Callable[[float], bool]] = {
            "gt": lambda n: n > bound,
            "gte": lambda n: n >= bound,
            "lt": lambda n: n < bound,
            "lte": lambda n: n <= bound,
        }
        check = checks[op]
        return lambda v: (n := _number(v)) is not None and check(n)
    if isinstance(value, bool):
        word = "true" if value else "false"
        return lambda v: v is value or (isinstance(v, str) and v.strip().lower() == word)
    if isinstance(value, int | float) and not (modifiers & {"contains", "startswith", "endswith"}):
        number = float(value)
        text = str(value)
        return lambda v: ((n := _number(v)) is not None and n == number) or _text(v) == text
    return _string_test(str(value), modifiers)


_KNOWN_MODIFIERS = {
    "contains",
    "startswith",
    "endswith",
    "all",
    "re",
    "i",
    "m",
    "s",
    "cidr",
    "exists",
    "cased",
    "gt",
    "gte",
    "lt",
    "lte",
}


@dataclass(frozen=True, slots=True)
class _Node:
    match: Matcher
    pinned: frozenset[str] | None
    """Lower-cased event names (version suffix stripped) the node can only match; None: any."""


def _field_node(spec: str, raw: Any) -> _Node:
    field, *mods = spec.split("|")
    if not field:
        raise SigmaUnsupported("keyword (field-less) searches with modifiers")
    modifiers = {m.lower() for m in mods}
    for mod in modifiers:
        if mod in _UNSUPPORTED_MODIFIERS:
            raise SigmaUnsupported(f"field {field!r}: {_UNSUPPORTED_MODIFIERS[mod]}")
        if mod not in _KNOWN_MODIFIERS:
            raise SigmaUnsupported(f"field {field!r}: unknown modifier {mod!r}")
    if modifiers & {"i", "m", "s"} and "re" not in modifiers:
        raise SigmaUnsupported(f"field {field!r}: the i, m and s modifiers only go with |re")
    if len(modifiers & {"contains", "startswith", "endswith"}) > 1:
        raise SigmaUnsupported(f"field {field!r}: more than one of contains/startswith/endswith")
    parts = field.split(".")
    values = raw if isinstance(raw, list) else [raw]
    if not values:
        raise SigmaUnsupported(f"field {field!r}: an empty value list")
    if "exists" in modifiers:
        if len(values) != 1 or not isinstance(values[0], bool):
            raise SigmaUnsupported(f"field {field!r}: |exists takes true or false")
        want = values[0]
        return _Node(lambda r: any(v is not None for v in _resolve(r, parts)) is want, None)
    tests: list[ValueTest | None] = []  # None: the null test
    for value in values:
        tests.append(None if value is None else _value_test(value, modifiers, field))
    require_all = "all" in modifiers

    def one(test: ValueTest | None, found: list[Any]) -> bool:
        if test is None:
            return all(v is None for v in found)  # absent or null
        return any(test(v) for v in found)

    if require_all:

        def match(record: Mapping[str, Any]) -> bool:
            found = _resolve(record, parts)
            return all(one(t, found) for t in tests)

    else:

        def match(record: Mapping[str, Any]) -> bool:
            found = _resolve(record, parts)
            return any(one(t, found) for t in tests)

    pinned = None
    plain = not (modifiers - {"cased"})
    if field == "eventName" and plain and not require_all:
        names = [v for v in values if isinstance(v, str) and not _has_wildcard(v)]
        if len(names) == len(values):
            pinned = frozenset(base_name(_unescape(n)).lower() for n in names)
    return _Node(match, pinned)


def _and(nodes: list[_Node]) -> _Node:
    matchers = [n.match for n in nodes]
    pins = [n.pinned for n in nodes if n.pinned is not None]
    pinned: frozenset[str] | None = None
    if pins:
        pinned = pins[0]
        for pin in pins[1:]:
            pinned = pinned & pin
    return _Node(lambda r: all(m(r) for m in matchers), pinned)


def _or(nodes: list[_Node]) -> _Node:
    matchers = [n.match for n in nodes]
    pinned: frozenset[str] | None = None
    if nodes and all(n.pinned is not None for n in nodes):
        pinned = frozenset().union(*(n.pinned for n in nodes if n.pinned is not None))
    return _Node(lambda r: any(m(r) for m in matchers), pinned)


def _search(name: str, body: Any) -> _Node:
    if isinstance(body, Mapping):
        if not body:
            raise SigmaUnsupported(f"search {name!r} is empty")
        return _and([_field_node(str(k), v) for k, v in body.items()])
    if isinstance(body, list) and body and all(isinstance(b, Mapping) for b in body):
        return _or([_search(name, b) for b in body])
    if isinstance(body, list | str | int) and not isinstance(body, bool):
        raise SigmaUnsupported(f"search {name!r}: keyword (field-less) searches")
    raise SigmaUnsupported(f"search {name!r}: not a mapping or a list of mappings")


# -- conditions --------------------------------------------------------------------------------------
_TOKEN = re.compile(r"\s*(\(|\)|[^\s()]+)")


class _Condition:
    """Recursive descent over ``not`` > ``and`` > ``or``, ``N of x``, parentheses."""

    def __init__(self, text: str, searches: Mapping[str, _Node]) -> None:
        if "|" in text:
            raise SigmaUnsupported("aggregations in the condition (| count() …)")
        self.tokens = [m.group(1) for m in _TOKEN.finditer(text)]
        self.pos = 0
        self.searches = searches
        self.used: set[str] = set()

    def parse(self) -> _Node:
        if not self.tokens:
            raise SigmaUnsupported("an empty condition")
        node = self._or()
        if self.pos != len(self.tokens):
            raise SigmaUnsupported(f"condition: unexpected {self.tokens[self.pos]!r}")
        return node

    def _peek(self) -> str | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _next(self) -> str:
        token = self._peek()
        if token is None:
            raise SigmaUnsupported("condition ends too early")
        self.pos += 1
        return token

    def _or(self) -> _Node:
        nodes = [self._and()]
        while (self._peek() or "").lower() == "or":
            self._next()
            nodes.append(self._and())
        return nodes[0] if len(nodes) == 1 else _or(nodes)

    def _and(self) -> _Node:
        nodes = [self._not()]
        while (self._peek() or "").lower() == "and":
            self._next()
            nodes.append(self._not())
        return nodes[0] if len(nodes) == 1 else _and(nodes)

    def _not(self) -> _Node:
        if (self._peek() or "").lower() == "not":
            self._next()
            inner = self._not()
            return _Node(lambda r: not inner.match(r), None)
        return self._primary()

    def _primary(self) -> _Node:
        word = self._next()
        low = word.lower()
        if word == "(":
            node = self._or()
            if self._next() != ")":
                raise SigmaUnsupported("condition: unbalanced parentheses")
            return node
        if low in ("and", "or", ")", "of", "them"):
            raise SigmaUnsupported(f"condition: unexpected {word!r}")
        if low == "near":
            raise SigmaUnsupported("the near operator")
        if (self._peek() or "").lower() == "of":
            self._next()
            return self._quantified(low, self._next())
        if word not in self.searches:
            raise SigmaUnsupported(f"condition names {word!r}, which the detection does not define")
        self.used.add(word)
        return self.searches[word]

    def _quantified(self, quantity: str, target: str) -> _Node:
        if target.lower() == "them":
            names = [n for n in self.searches if not n.startswith("_")]
        else:
            names = [n for n in self.searches if fnmatch.fnmatchcase(n, target)]
        if not names:
            raise SigmaUnsupported(f"condition: {quantity} of {target} matches no search")
        self.used.update(names)
        nodes = [self.searches[n] for n in names]
        if quantity == "all":
            return _and(nodes)
        if quantity in ("1", "any"):
            return _or(nodes)
        if quantity.isdigit():
            need = int(quantity)
            matchers = [n.match for n in nodes]
            return _Node(lambda r: sum(1 for m in matchers if m(r)) >= need, None)
        raise SigmaUnsupported(f"condition: {quantity!r} of (use 1, any, all or a number)")


# -- rules -------------------------------------------------------------------------------------------
def _strings(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, list):
        return tuple(str(v) for v in value if v is not None)
    return (str(value),)


def compile_rule(doc: Any, path: str) -> Rule:
    """One Sigma rule document as an irkit :class:`Rule`; :class:`SigmaUnsupported` names what is not
    supported, and a rule for another log source raises the internal skip signal."""
    if not isinstance(doc, Mapping):
        raise SigmaUnsupported("not a YAML mapping")
    if "action" in doc:
        raise SigmaUnsupported(f"rule collections (action: {doc.get('action')})")
    if "correlation" in doc or doc.get("type") == "correlation":
        raise SigmaUnsupported("correlation rules")
    logsource = doc.get("logsource")
    if not isinstance(logsource, Mapping):
        raise SigmaUnsupported("no logsource")
    product = str(logsource.get("product") or "").lower()
    service = str(logsource.get("service") or "").lower()
    if product != "aws" or service != "cloudtrail":
        raise _Skip(f"logsource {product or '?'}/{service or '?'}")
    title = doc.get("title")
    if not isinstance(title, str) or not title.strip():
        raise SigmaUnsupported("no title")
    rule_id = doc.get("id")
    if not isinstance(rule_id, str) or not _ID.match(rule_id):
        raise SigmaUnsupported("no id (or an id that is not a plain identifier such as a UUID)")
    if str(doc.get("status") or "").lower() == "unsupported":
        raise SigmaUnsupported("status: unsupported (the rule's authors say it cannot be used as is)")
    level = str(doc.get("level") or "medium").lower()
    if level not in LEVELS:
        raise SigmaUnsupported(f"level {level!r} (expected informational, low, medium, high or critical)")
    detection = doc.get("detection")
    if not isinstance(detection, Mapping) or "condition" not in detection:
        raise SigmaUnsupported("no detection or no condition")
    if "timeframe" in detection:
        raise SigmaUnsupported("timeframe (a correlation over time)")
    searches = {str(k): _search(str(k), v) for k, v in detection.items() if k != "condition"}
    raw_condition = detection["condition"]
    conditions = raw_condition if isinstance(raw_condition, list) else [raw_condition]
    if not conditions or not all(isinstance(c, str) for c in conditions):
        raise SigmaUnsupported("condition is not a string (or a list of strings)")
    parsed = [_Condition(c, searches).parse() for c in conditions]
    root = parsed[0] if len(parsed) == 1 else _or(parsed)
    tags = _strings(doc.get("tags"))
    mitre = tuple(sorted({m.group(1).upper() for t in tags if (m := _TECHNIQUE_TAG.match(t))}))
    tactic = next(
        (
            t.split(".", 1)[1].replace("_", "-")
            for t in tags
            if t.lower().startswith("attack.") and t.split(".", 1)[1].replace("_", "-").lower() in _TACTICS
        ),
        "sigma",
    )
    author = str(doc.get("author") or "(no author given)")
    references = _strings(doc.get("references"))
    match = root.match
    events = tuple(sorted(root.pinned)) if root.pinned is not None else ()

    def describe(event: Event) -> str:
        return f"{event.event_name} (Sigma rule by {author})"

    return Rule(
        id=f"sigma:{rule_id}",
        title=title.strip(),
        severity=LEVELS[level],
        mitre=mitre,
        why=str(doc.get("description") or title).strip(),
        remediation="; ".join(_strings(doc.get("falsepositives"))) or "See the Sigma rule's references.",
        match=lambda event: match(event.raw),
        positive=(),
        negative=(),
        describe=describe,
        failed_calls="match",  # a Sigma rule says itself whether errorCode matters
        events=events,
        tactic=tactic,
        evidence={
            "sigma": {
                "id": rule_id,
                "title": title.strip(),
                "author": author,
                "references": list(references),
                "license": str(doc.get("license") or "DRL-1.1 (Sigma's default)"),
                "path": path,
            }
        },
    )


class SigmaRuleSet:
    """Loaded Sigma rules, indexed by the event names they pin (lower-cased, version suffix stripped)."""

    def __init__(self, rules: Sequence[Rule] = (), gaps: Sequence[Gap] = (), skipped: int = 0, files: int = 0) -> None:
        self.rules = tuple(rules)
        self.gaps = tuple(gaps)
        """Refused rules and unreadable files: path and reason."""
        self.skipped = skipped
        """Rules for another log source (not CloudTrail): not loaded, nothing missed."""
        self.files = files
        """Files (or, from :func:`compile_documents`, documents) read."""
        by_name: dict[str, list[Rule]] = {}
        wildcard: list[Rule] = []
        for rule in self.rules:
            if not rule.events:
                wildcard.append(rule)
            for name in rule.events:
                by_name.setdefault(name, []).append(rule)
        self._wildcard = tuple(wildcard)
        self._by_name = {k: tuple(v) + self._wildcard for k, v in by_name.items()}
        self._cache: dict[str, tuple[Rule, ...]] = {}

    def candidates(self, name: str) -> tuple[Rule, ...]:
        """The rules an event of this (base) name may match."""
        found = self._cache.get(name)
        if found is None:
            found = self._by_name.get(name.lower(), self._wildcard)
            if len(self._cache) < 10_000:
                self._cache[name] = found
        return found

    def summary(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "loaded": [r.id for r in self.rules],
            "refused": [g.to_json() for g in fold(self.gaps)],
            "refused_count": len(self.gaps),
            "skipped_other_logsource": self.skipped,
        }


def compile_documents(docs: Sequence[tuple[str, Any]]) -> SigmaRuleSet:
    """Rules from already-parsed ``(where, document)`` pairs (pure: what :func:`load_sigma` calls)."""
    rules: list[Rule] = []
    gaps: list[Gap] = []
    skipped = 0
    seen: dict[str, str] = {}
    for where, doc in docs:
        if doc is None:
            continue
        try:
            rule = compile_rule(doc, where)
        except _Skip:
            skipped += 1
            continue
        except SigmaUnsupported as exc:
            name = doc.get("id") or doc.get("title") if isinstance(doc, Mapping) else None
            label = f"sigma rule {str(name)[:100]!r}" if name else "sigma rule"
            gaps.append(Gap(where, f"{label} not loaded: {exc}"))
            continue
        if rule.id in seen:
            gaps.append(Gap(where, f"sigma rule {rule.id[6:]!r} not loaded: duplicate id (also in {seen[rule.id]})"))
            continue
        seen[rule.id] = where
        rules.append(rule)
    return SigmaRuleSet(rules, gaps, skipped, len(docs))


def _rule_files(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return sorted(p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in (".yml", ".yaml"))


def load_sigma(dirs: Sequence[Path]) -> SigmaRuleSet:
    """Every Sigma rule under ``dirs`` (``*.yml``/``*.yaml``, recursively). A missing folder, an
    unreadable file or a YAML error is a gap, like a refused rule; nothing raises."""
    docs: list[tuple[str, Any]] = []
    gaps: list[Gap] = []
    files = 0
    for root in dirs:
        if not root.exists():
            gaps.append(Gap(str(root), "sigma rules folder does not exist: its rules were not run"))
            continue
        for path in _rule_files(root):
            files += 1
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    gaps.append(Gap(str(path), f"sigma rule file larger than {MAX_FILE_BYTES} bytes: not loaded"))
                    continue
                text = path.read_bytes().decode("utf-8")
            except OSError as exc:
                gaps.append(Gap(str(path), f"sigma rule file unreadable: {exc.strerror or exc}"))
                continue
            except UnicodeDecodeError as exc:
                gaps.append(Gap(str(path), f"sigma rule file is not UTF-8 (byte {exc.start}): not loaded"))
                continue
            import yaml  # here, not at import: analyze without --sigma never needs it

            try:
                parsed = list(yaml.safe_load_all(text))
            except yaml.YAMLError as exc:
                mark = getattr(exc, "problem_mark", None)
                where = f" at line {mark.line + 1}" if mark is not None else ""
                gaps.append(Gap(str(path), f"sigma rule file is not valid YAML{where}: not loaded"))
                continue
            if len(parsed) == 1:
                docs.append((str(path), parsed[0]))
            else:
                docs.extend((f"{path}#{n + 1}", doc) for n, doc in enumerate(parsed))
    loaded = compile_documents(docs)
    return SigmaRuleSet(loaded.rules, (*gaps, *loaded.gaps), loaded.skipped, files)

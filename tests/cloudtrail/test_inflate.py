"""One inflate path: what collect and the verifier hash is exactly what the reader parses, under one cap."""

from __future__ import annotations

import base64
import gzip
import hashlib
import itertools
import re
import zlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irkit.cloudtrail import inflate, reader
from irkit.cloudtrail.digest import gunzip_sha256
from irkit.cloudtrail.inflate import (
    CHUNK,
    Hasher,
    InflateError,
    Inflater,
    TooLarge,
    TooManyValues,
    check_values,
    read_log,
    sha256_inflated,
)
from irkit.cloudtrail.reader import ReadStats, iter_events

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ENGINES = {"zlib": zlib, "isal": inflate._engine("isal")}


@pytest.fixture(autouse=True, params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test here runs with each inflate engine (the reader's worker processes read the variable)."""
    name: str = request.param
    if name == "isal" and ENGINES[name] is zlib:
        pytest.skip("isal is not installed")
    monkeypatch.setattr(inflate, "ENGINE", ENGINES[name])
    monkeypatch.setenv("IRKIT_INFLATE", name)
    return name


def test_isal_is_what_runs_when_installed() -> None:
    """The dependency is installed with irkit: a build without it would silently be 3.5x slower."""
    assert inflate._engine(None) is ENGINES["isal"] is not zlib
    assert inflate._engine("zlib") is zlib


def outcome(body: bytes, engine: object) -> tuple[str, bytes | str]:
    saved = inflate.ENGINE
    inflate.ENGINE = engine  # type: ignore[assignment]
    try:
        return "ok", bytes(inflate.inflate(body))
    except InflateError as exc:
        return "refused", str(exc)
    finally:
        inflate.ENGINE = saved


def damaged(body: bytes, edits: list[tuple[int, int]]) -> bytes:
    out = bytearray(body)
    for where, byte in edits:
        out[where % len(out)] = byte
    return bytes(out)


# A gzip member whose dynamic Huffman block declares an incomplete distance code set (one byte of
# a valid member changed). zlib refuses it ("invalid distances set"); ISA-L inflates it, and the
# member's CRC-32 and length check out: the same 2,769 zero bytes the valid member held.
LENIENT = base64.b64decode("H4sIAAAAAAACA+3BAQ0AAADCoPdPbQ43sAAA4NgA5xmcRtEKAAA=")


def test_isal_s_one_leniency_is_incomplete_code_sets() -> None:
    assert outcome(LENIENT, ENGINES["isal"]) == ("ok", bytes(2769))
    status, why = outcome(LENIENT, zlib)
    assert status == "refused" and "invalid distances set" in str(why)


def test_a_reserved_gzip_flag_is_refused_by_both_engines() -> None:
    """ISA-L ignores the gzip header's reserved flag bits, zlib refuses them: irkit checks them itself,
    also when the header arrives a byte at a time."""
    body = bytearray(gz(b"{}"))
    body[3] |= 0x20
    for engine in ENGINES.values():
        assert outcome(bytes(body), engine)[0] == "refused"
        inflater = Inflater()
        with pytest.raises(InflateError, match="reserved gzip header flags"):
            for i in range(len(body)):
                inflater.feed(body[i : i + 1])
            inflater.finish()
    assert outcome(gz(b"{}")[:3], ENGINES["isal"])[0] == "refused"  # a header cut short is still refused


@PROPERTY
@given(
    body=st.one_of(
        st.binary(max_size=2000),
        st.tuples(
            st.lists(st.binary(max_size=3000), min_size=1, max_size=3),
            st.lists(st.tuples(st.integers(min_value=0), st.integers(min_value=0, max_value=255)), max_size=4),
            st.integers(min_value=0, max_value=40),
            st.binary(max_size=8),
        ).map(lambda t: damaged(b"".join(gz(p) for p in t[0]), t[1])[: -t[2] or None] + t[3]),
    )
)
def test_both_engines_give_the_same_bytes_and_refuse_alike(body: bytes) -> None:
    """A hash never depends on which engine ran: every stream zlib accepts, ISA-L accepts with the
    same bytes; the one thing only ISA-L accepts is a member with an incomplete Huffman code set
    (no deflater writes one), whose bytes still pass the member's CRC-32 and are what is hashed."""
    z, i = outcome(body, zlib), outcome(body, ENGINES["isal"])
    if z[0] == "ok":
        assert i == z
    elif i[0] == "ok":
        assert re.search(r"invalid (distances|literal/lengths|code lengths) set", str(z[1])), z


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


@PROPERTY
@given(parts=st.lists(st.binary(max_size=3000), min_size=1, max_size=5))
def test_every_member_is_hashed_and_inflated(parts: list[bytes]) -> None:
    body = b"".join(gz(p) for p in parts)
    whole = b"".join(parts)
    result = sha256_inflated(body)
    assert (result.sha256, result.size, result.members) == (hashlib.sha256(whole).hexdigest(), len(whole), len(parts))
    assert inflate.inflate(body) == whole
    assert gunzip_sha256(body) == result.sha256  # the verifier's public helper is the same path
    assert gzip.decompress(body) == whole  # and what any gzip reader sees


@PROPERTY
@given(data=st.binary(max_size=20_000), cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=8))
def test_streaming_in_any_chunks_hashes_like_one_shot(data: bytes, cuts: list[int]) -> None:
    body = gz(data) + gz(data[::-1])
    hasher = Hasher()
    edges = sorted({0, len(body), *(c % (len(body) + 1) for c in cuts)})
    for a, b in itertools.pairwise(edges):
        hasher.feed(body[a:b])
    assert hasher.finish() == sha256_inflated(body)


@PROPERTY
@given(body=st.one_of(st.binary(max_size=2000), st.binary(max_size=200).map(gz).map(lambda b: b[: len(b) // 2])))
def test_arbitrary_bytes_either_inflate_or_raise_an_inflate_error(body: bytes) -> None:
    try:
        result = sha256_inflated(body)
    except InflateError:
        with pytest.raises(InflateError):
            inflate.inflate(body)
    else:
        assert hashlib.sha256(inflate.inflate(body)).hexdigest() == result.sha256


@PROPERTY
@given(body=st.one_of(st.binary(max_size=3000), st.lists(st.binary(max_size=500), min_size=1, max_size=3).map(
    lambda ps: b"".join(gz(p) for p in ps))))
def test_what_the_reader_loads_is_what_the_verifier_hashes(tmp_path: Path, body: bytes) -> None:
    path = tmp_path / "x.json.gz"
    path.write_bytes(body)
    try:
        loaded = read_log(str(path), max_values=1 << 30)
    except InflateError:
        with pytest.raises(zlib.error):
            gunzip_sha256(body)
    else:
        assert hashlib.sha256(loaded).hexdigest() == gunzip_sha256(body)


@pytest.mark.parametrize(
    ("body", "why"),
    [
        (b"", "empty"),
        (b"not gzip at all", "not a valid gzip file"),
        (gz(b"{}")[:-4], "truncated"),
        (gz(b"{}") + b"\x00\x00\x00\x00", "bytes after gzip member 1"),
        (gz(b"{}") + b"garbage", "bytes after gzip member 1"),
        (gz(b"{}") + gz(b"[]")[:-2], "truncated gzip stream (in member 2)"),
    ],
)
def test_what_is_not_whole_gzip_is_refused_by_name(body: bytes, why: str) -> None:
    with pytest.raises(InflateError, match=why.replace("(", r"\(").replace(")", r"\)")):
        sha256_inflated(body)


def test_an_injected_cap_stops_inflation_and_the_sink_never_sees_more(tmp_path: Path) -> None:
    seen: list[int] = []
    inflater = Inflater(lambda chunk: seen.append(len(chunk)), limit=3 * CHUNK)
    bomb = gz(bytes(20 * CHUNK))
    with pytest.raises(TooLarge, match="log larger than 3 MiB decompressed"):
        inflater.feed(bomb)
        inflater.finish()
    assert sum(seen) <= 3 * CHUNK and max(seen) <= CHUNK


def test_the_cap_is_read_when_used_not_when_imported(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(inflate, "MAX_DECOMPRESSED", 1000)
    with pytest.raises(TooLarge, match="1000 bytes"):
        sha256_inflated(gz(bytes(1001)))
    plain = tmp_path / "x.json"
    plain.write_bytes(b" " * 1001)
    with pytest.raises(TooLarge):
        read_log(str(plain))
    big = tmp_path / "big.json.gz"
    big.write_bytes(bytes(inflate.stored_limit() + 1))  # more stored bytes than any capped log: not even read
    with pytest.raises(TooLarge):
        read_log(str(big))


def test_a_file_with_more_values_than_a_log_holds_is_refused_before_parsing() -> None:
    check_values(b"[" + b"1," * 9 + b"1]", max_values=11)
    with pytest.raises(TooManyValues, match="23 JSON values"):
        check_values(b"[[" + b"{}," * 10 + b"{}]]", max_values=11)


@pytest.mark.parametrize("workers", [0, 1])
def test_the_reader_and_its_worker_apply_the_same_injected_caps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(inflate, "MAX_DECOMPRESSED", 4096)
    monkeypatch.setattr(inflate, "MAX_JSON_VALUES", 50)
    monkeypatch.setattr(reader, "PARALLEL_MIN_FILES", 1)
    monkeypatch.setattr(reader, "SHARED_MEMORY", tmp_path / "shm")
    (tmp_path / "shm").mkdir()
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "a-big.json.gz").write_bytes(gz(b'{"Records": []}' + b" " * 5000))
    (logs / "b-many.json").write_bytes(b'{"Records": [' + b",".join([b"{}"] * 40) + b"]}")
    (logs / "c-appended.jsonl.gz").write_bytes(gz(b"{}\n") + gz(b"{}\n"))
    stats = ReadStats()
    assert list(iter_events([logs], stats, workers=workers)) == []
    reasons = {Path(g.path).name.split("#")[0]: g.reason for g in stats.gaps}
    assert reasons["a-big.json.gz"].startswith("log larger than 4096 bytes decompressed")
    assert reasons["b-many.json"].startswith("not read: 81 JSON values")
    # both members were read: two malformed records, not one
    assert sum(1 for g in stats.gaps if g.path.startswith(str(logs / "c-appended.jsonl.gz"))) == 2
    assert list((tmp_path / "shm").iterdir()) == []

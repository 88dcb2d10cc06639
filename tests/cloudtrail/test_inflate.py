"""One inflate path: what collect and the verifier hash is exactly what the reader parses, under one cap."""

from __future__ import annotations

import gzip
import hashlib
import itertools
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

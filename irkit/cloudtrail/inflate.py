"""Inflate a log the one way irkit hashes it and parses it: every gzip member, under a hard cap.

The digest's ``hashValue`` is the SHA-256 of the *decompressed* log. ``collect`` (the manifest's
``sha256_decompressed``), the digest verifier (on S3 and offline) and the reader (in process and in
its worker processes) must agree on what those bytes are, or an attacker finds a file that one of
them accepts and another reads differently. All of them go through :class:`Inflater`.

Every member is inflated, as gzip(1), Python's ``gzip`` and Athena do: ``gzip(log) + gzip(more)``
then hashes as ``log + more`` and fails the digest like any other rewrite, so the recovery of the
authentic version runs as for any other rewrite. Inflating only the first member (what the verifier
did before) let such a file verify "intact" while the reader parsed both. Refusing a second member
outright would also work, but a digest vouches for the content, not for how it was compressed: a
copy recompressed in several members is still the log. Bytes after a member that do not start
another member (including zero padding) are refused: nothing writes them but an attacker.

Everything is bounded: at most :data:`MAX_DECOMPRESSED` bytes come out of one file (a gzip bomb
stops there, named), output is produced a chunk at a time (one ``decompress`` call never yields
more than :data:`CHUNK`), and a file to be parsed may hold at most :data:`MAX_JSON_VALUES` JSON
values (:func:`check_values`): parsed, a tiny value such as ``{}`` costs ~80 bytes, and without
the bound a 130 KB file of empty objects would take gigabytes.

The stdlib and, when installed, ISA-L (the ``isal`` package, a dependency of irkit): the reader's
worker processes run this module's source as their script (``python -I -c``), so the worker
inflates with this very code, not a copy of it. ISA-L inflates ~3.5x faster than zlib (200k-event
bench: 0.71 -> 0.20 s of CPU) and gives the same bytes for every stream zlib accepts; without it,
or with ``IRKIT_INFLATE=zlib`` in the environment, zlib inflates. The two differ on input no
compressor writes: ISA-L ignores a gzip header's reserved flag bits (irkit refuses them itself,
for either engine) and inflates a member whose Huffman code set is incomplete, which zlib refuses
(its bytes still pass the member's CRC-32, and are what is hashed and parsed: the reader, the
verifier and ``collect`` of one install use the same engine). ``tests/cloudtrail/test_inflate.py``
runs every property under both and holds them to that.
"""

from __future__ import annotations

import hashlib
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any


def _engine(name: str | None) -> ModuleType:
    """``zlib`` or ISA-L's drop-in ``isal_zlib`` (same ``decompressobj`` interface)."""
    if name != "zlib":
        try:
            from isal import isal_zlib
        except ImportError:
            pass
        else:
            return isal_zlib
    return zlib


ENGINE = _engine(os.environ.get("IRKIT_INFLATE"))
"""The module whose ``decompressobj`` inflates (read at call time: a test may swap it)."""
_ERRORS: tuple[type[Exception], ...] = tuple({zlib.error, _engine(None).error})
"""What either engine raises for a bad stream (ISA-L's error is not a ``zlib.error``)."""

MiB = 1 << 20
MAX_DECOMPRESSED = 128 * MiB
"""The most one log file may inflate to. CloudTrail delivers a file per account and region about
every 5 minutes; real files are a few MB decompressed (the benchmark's realistic ones: 1.2 MB), a
busy region's tens of MB. 128 MiB is far above that and still bounds what one file costs."""

MAX_JSON_VALUES = 4_000_000
"""JSON values (``,`` ``{`` ``[`` counted) in one file: real CloudTrail JSON has one every ~28 bytes,
so this admits ~110 MB of real logs and bounds a crafted file to a few hundred MB once parsed."""
CHUNK = MiB
_FEED = CHUNK
"""Input handed to the engine per call. Not smaller: ISA-L sizes each call's output buffer to the
``CHUNK`` asked for and shrinks it to what came out, and 64 KiB of input (~0.5 MiB out) a call left
the heap fragmented (1M bench: +10 MiB in each process, reading 600 files alone 17 -> 46 MiB).
What a call does not consume is copied: at most this much, and only for files larger than it."""
GZIP_SUFFIX = ".gz"


def stored_limit(limit: int | None = None) -> int:
    """The largest stored (compressed) object that can hold a log within ``limit`` (default: the cap)
    decompressed bytes: deflate grows incompressible input by 5 bytes in 64 KiB, a gzip header and
    trailer add ~20; a bigger object is not downloaded or read at all."""
    limit = MAX_DECOMPRESSED if limit is None else limit
    return limit + limit // 100 + MiB


class InflateError(zlib.error):
    """Not a readable gzip file: corrupt, truncated, or with bytes after its last member.
    (A ``zlib.error``: callers that caught zlib's errors catch these.)"""


class TooLarge(InflateError):
    """More than the cap came out (or would): the file is not inflated further."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"log larger than {size_text(limit)} decompressed")
        self.limit = limit


class TooManyValues(ValueError):
    def __init__(self, count: int, limit: int) -> None:
        super().__init__(f"{count} JSON values, more than any CloudTrail log holds (limit {limit})")
        self.count = count
        self.limit = limit


def size_text(n: int) -> str:
    return f"{n // MiB} MiB" if n >= MiB and n % MiB == 0 else f"{n} bytes"


class Inflater:
    """Push-based inflation: :meth:`feed` compressed chunks, then :meth:`finish`.

    Output goes to ``sink`` a chunk at a time; ``size`` counts it and ``members`` the gzip (or zlib)
    members completed. Raises :class:`TooLarge` as soon as more than ``limit`` bytes came out and
    :class:`InflateError` for anything that is not whole, valid gzip.
    """

    def __init__(self, sink: Callable[[bytes], object] | None = None, *, limit: int | None = None) -> None:
        self.sink = sink
        # read at call time, not bound at import: a test (or a patched build) may lower the cap
        self.limit = MAX_DECOMPRESSED if limit is None else limit
        self.size = 0
        self.members = 0
        self._member: Any = None  # zlib._Decompress or ISA-L's
        self._head = b""  # the first bytes of a member, while fewer than its flags need

    def _emit(self, out: bytes) -> None:
        if not out:
            return
        self.size += len(out)
        if self.size > self.limit:
            raise TooLarge(self.limit)
        if self.sink is not None:
            self.sink(out)

    def _error(self, exc: Exception) -> InflateError:
        if self.members:
            return InflateError(f"bytes after gzip member {self.members} that are not gzip ({exc})")
        return InflateError(f"not a valid gzip file ({exc})")

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        view = memoryview(chunk)
        for offset in range(0, len(view), _FEED):
            self._feed(view[offset : offset + _FEED])

    def _start(self, data: bytes | memoryview, final: bool) -> bytes | memoryview | None:
        """The input a new member starts with, once its gzip flags can be checked (None: wait).

        zlib refuses a gzip header with a reserved flag bit set; ISA-L ignores those bits. Both
        engines must accept exactly the same files, so the bits are checked here, for either."""
        if self._head:
            data = self._head + bytes(data)
            self._head = b""
        if len(data) < 4 and not final:
            self._head = bytes(data)
            return None
        if len(data) >= 4 and data[0] == 0x1F and data[1] == 0x8B and data[3] & 0xE0:
            raise self._error(zlib.error("reserved gzip header flags set"))
        return data

    def _feed(self, data: bytes | memoryview, final: bool = False) -> None:
        while True:
            if self._member is None:
                if not data:
                    return
                started = self._start(data, final)
                if started is None:
                    return
                data = started
                self._member = ENGINE.decompressobj(wbits=47)  # 32 + 15: a gzip or zlib header
            member = self._member
            try:
                out = member.decompress(data, CHUNK)
            except _ERRORS as exc:
                raise self._error(exc) from None
            self._emit(out)
            if member.eof:
                self.members += 1
                self._member = None
                data = member.unused_data
                continue
            data = member.unconsumed_tail
            # A full chunk may leave output pending inside zlib: ask again, with no new input.
            if not data and len(out) < CHUNK:
                return

    def finish(self) -> int:
        """Check the end of the stream; the number of members."""
        if self._head:  # fewer than 4 bytes of a member: the engine names what is wrong with them
            head, self._head = self._head, b""
            self._feed(head, final=True)
        member = self._member
        if member is not None:
            try:
                self._emit(member.flush())
            except _ERRORS as exc:
                raise self._error(exc) from None
            if not member.eof:
                where = f" (in member {self.members + 1})" if self.members else ""
                raise InflateError(f"truncated gzip stream{where}")
            self.members += 1
            self._member = None
        if not self.members:
            raise InflateError("not a valid gzip file (empty)")
        return self.members


@dataclass(frozen=True, slots=True)
class Inflated:
    sha256: str
    """Hex SHA-256 of every member's decompressed bytes: what a digest's ``hashValue`` must equal."""
    size: int
    members: int
    """Gzip members: CloudTrail writes one; more means bytes were appended to the file."""


class Hasher:
    """SHA-256 of the decompressed stream, fed chunk by chunk (``collect`` streams to disk with it)."""

    def __init__(self, *, limit: int | None = None) -> None:
        self._sha = hashlib.sha256()
        self._inflater = Inflater(self._sha.update, limit=limit)

    def feed(self, chunk: bytes | bytearray | memoryview) -> None:
        self._inflater.feed(chunk)

    def finish(self) -> Inflated:
        members = self._inflater.finish()
        return Inflated(self._sha.hexdigest(), self._inflater.size, members)


def sha256_inflated(body: bytes | bytearray | memoryview, *, limit: int | None = None) -> Inflated:
    """Hash a whole compressed body (never holds its decompressed bytes)."""
    hasher = Hasher(limit=limit)
    hasher.feed(body)
    return hasher.finish()


def inflate(body: bytes | bytearray | memoryview, *, limit: int | None = None) -> bytearray:
    """The decompressed bytes of a whole compressed body."""
    out = bytearray()
    inflater = Inflater(out.extend, limit=limit)
    inflater.feed(body)
    inflater.finish()
    return out


def check_values(data: bytes | bytearray, max_values: int | None = None) -> None:
    """Refuse, before parsing, a document with more JSON values than a real log could hold (an upper
    bound: ``,`` ``{`` ``[`` inside strings count too)."""
    max_values = MAX_JSON_VALUES if max_values is None else max_values
    if len(data) <= max_values:
        return  # each counted byte is a byte: the count cannot exceed the length (the usual log)
    count = data.count(b",") + data.count(b"{") + data.count(b"[")
    if count > max_values:
        raise TooManyValues(count, max_values)


def read_log(path: str, *, limit: int | None = None, max_values: int | None = None) -> bytes | bytearray:
    """A log file's bytes ready to parse: inflated when its name ends in ``.gz``, at most ``limit``
    bytes either way, at most ``max_values`` JSON values. The reader and its workers both call this."""
    limit = MAX_DECOMPRESSED if limit is None else limit
    with open(path, "rb") as fh:  # noqa: PTH123 - stdlib-only module (the worker runs its source)
        if path.endswith(GZIP_SUFFIX):
            if os.fstat(fh.fileno()).st_size > stored_limit(limit):
                raise TooLarge(limit)  # more compressed bytes than any log within the cap has
            parts: list[bytes] = []
            inflater = Inflater(parts.append, limit=limit)
            for chunk in iter(lambda: fh.read(CHUNK), b""):
                inflater.feed(chunk)
            inflater.finish()
            data: bytes | bytearray = b"".join(parts)  # bytes: the typed decode keeps views into it
            del parts
        else:
            data = fh.read(limit + 1)
            if len(data) > limit:
                raise TooLarge(limit)
    check_values(data, max_values)
    return data


def refusal_text(exc: BaseException) -> str:
    """The gap reason for a file :func:`read_log` did not return (the same in a worker and here)."""
    if isinstance(exc, TooLarge):
        return f"{exc} (irkit's limit for one file): not read"
    if isinstance(exc, TooManyValues):
        return f"not read: {exc}"
    return "unreadable: " + str(exc).replace("\n", " ")

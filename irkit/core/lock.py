"""One run per case: an exclusive ``flock`` on ``<case>/case.lock``, held for the whole run.

Two runs of one case at once would both apply every action and interleave their journal entries
(each process chains from the hash it last saw, so the chain forks and the report then says the
journal "was altered"). The lock makes the second run refuse, naming the first.

The kernel holds the lock, not the file: when the holding process dies (SIGKILL included) the lock
is released with its file descriptor, so a lock file left behind by a killed run never blocks a
resume. What the file *says* (pid, start time, command, host) is only a note for the refusal
message and is overwritten by the next holder.

While a case is locked the process umask is ``077`` (whatever the caller's): every file a step
writes in the case (report, findings, snapshots) is private to the responder's user. The lock also
tightens the folder it guards: directories ``0700``, files without group/other bits (evidence stays
read-only: ``0444`` becomes ``0400``).
"""

from __future__ import annotations

import fcntl
import os
import socket
import stat
import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import orjson

from irkit.errors import CaseError
from irkit.redact import redact_text

LOCK_FILE = "case.lock"
PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
_PRIVATE_UMASK = 0o077


class CaseLocked(CaseError):
    """Another run holds the case (exit 2: nothing was done, run the command again later)."""

    def __init__(self, root: Path, holder: Holder | None) -> None:
        self.root = root
        self.holder = holder
        who = holder.describe() if holder else "another irkit run (it has not recorded itself yet)"
        super().__init__(
            f"case {root} is in use by {who}. One run at a time per case: wait for it to finish "
            f"(or stop that process), then run the command again"
        )


@dataclass(frozen=True, slots=True)
class Holder:
    pid: int
    started: str
    command: str
    host: str = ""

    def describe(self) -> str:
        where = f" on {self.host}" if self.host and self.host != socket.gethostname() else ""
        return f"pid {self.pid}{where} (`{self.command}`, started {self.started})"

    def to_json(self) -> dict[str, Any]:
        return {"pid": self.pid, "started": self.started, "command": self.command, "host": self.host}


def _read_holder(fd: int) -> Holder | None:
    try:
        raw = os.pread(fd, 4096, 0)
        data = orjson.loads(raw) if raw.strip() else None
    except (OSError, orjson.JSONDecodeError):
        return None
    if not isinstance(data, dict) or not isinstance(data.get("pid"), int):
        return None
    return Holder(
        int(data["pid"]), str(data.get("started", "?")), str(data.get("command", "?")), str(data.get("host", ""))
    )


# umask is per process; runs in threads of one process (tests, drills) share it: the first lock in
# saves the caller's umask, the last one out puts it back.
_umask_guard = threading.Lock()
_umask_depth = 0
_umask_saved = 0


def _private_umask_enter() -> None:
    global _umask_depth, _umask_saved
    with _umask_guard:
        if _umask_depth == 0:
            _umask_saved = os.umask(_PRIVATE_UMASK)
        _umask_depth += 1


def _private_umask_exit() -> None:
    global _umask_depth
    with _umask_guard:
        _umask_depth -= 1
        if _umask_depth == 0:
            os.umask(_umask_saved)


def make_private(root: Path) -> None:
    """Directories 0700, files stripped of group/other bits, under ``root`` (symlinks untouched).

    Only bits are removed, never added: evidence made read-only by collect stays read-only."""
    for dirpath, _dirnames, filenames in os.walk(root, followlinks=False):
        _strip(Path(dirpath), directory=True)
        for name in filenames:
            _strip(Path(dirpath) / name, directory=False)


def _strip(path: Path, *, directory: bool) -> None:
    try:
        st = os.lstat(path)
        if stat.S_ISLNK(st.st_mode):
            return
        mode = stat.S_IMODE(st.st_mode)
        wanted = PRIVATE_DIR if directory else mode & ~0o077
        if mode != wanted:
            path.chmod(wanted)
    except OSError:
        pass  # not ours to change (another owner) or gone: the folder's own 0700 still guards it


class CaseLock:
    """An exclusive lock on one case folder; release it (or use ``with``) when the run ends."""

    def __init__(self, root: Path, fd: int, holder: Holder, stale: Holder | None) -> None:
        self.root = root
        self.holder = holder
        self.stale = stale
        """The note a previous holder left: it ended without releasing (killed, or the machine died)."""
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, root: Path, command: str) -> CaseLock:
        """Lock ``root`` for this process, or raise :class:`CaseLocked` naming the holder."""
        path = root / LOCK_FILE
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, PRIVATE_FILE)
        except OSError as exc:
            raise CaseError(f"cannot lock case {root}: {path}: {exc.strerror}") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise CaseLocked(root, holder) from None
        except OSError as exc:
            os.close(fd)
            raise CaseError(f"cannot lock case {root}: {exc.strerror}") from None
        stale = _read_holder(fd)
        holder = Holder(
            pid=os.getpid(),
            started=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            command=redact_text(command)[:500],
            host=socket.gethostname(),
        )
        os.ftruncate(fd, 0)
        os.pwrite(fd, orjson.dumps(holder.to_json()) + b"\n", 0)
        os.fchmod(fd, PRIVATE_FILE)
        _private_umask_enter()
        lock = cls(root, fd, holder, stale)
        make_private(root)
        return lock

    @property
    def held(self) -> bool:
        return self._fd is not None

    def release(self) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            # Whatever a step wrote with an explicit mode during the run is made private too.
            make_private(self.root)
            os.ftruncate(fd, 0)  # an empty note: the run ended and released the case
        except OSError:
            pass
        finally:
            _private_umask_exit()
            os.close(fd)  # closing the descriptor releases the flock

    def __enter__(self) -> CaseLock:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.release()

    def __del__(self) -> None:
        # A lock dropped without release (an error path, a test) gives its descriptor back and does
        # not leave the process umask private; the folder sweep is for a release that is meant.
        fd = getattr(self, "_fd", None)
        if fd is not None:
            self._fd = None
            try:
                _private_umask_exit()
                os.close(fd)
            except Exception:  # noqa: S110 - nothing to report to at garbage collection
                pass

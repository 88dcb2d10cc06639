"""Preflight: before the first step, who irkit runs as, and whether the log archive can be read.

Credentials come first and are a hard stop: without credentials that AWS accepts nothing can be
contained, and a run that went on would print a step list of empty successes. So
:meth:`irkit.aws.session.Aws.identity` raises (exit 2) before a case folder exists.

The archive is checked too, but containment never waits for it (contain first): the probe runs in
the background while the run starts, and what it found is said loudly as soon as it is known, at
the latest just before the first step that reads the archive. It assumes ``log_archive.role_arn``
when set and lists one key under the agent's ``CloudTrail/`` prefix: a missing bucket, an
AccessDenied, a log-reader role that does not exist or an empty prefix are each named with the
call that failed. Collection still falls back as it always did; the responder just knows why
before the page of containment output scrolls by.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from irkit.aws.session import Clients, Identity, aws_call
from irkit.cloudtrail.layout import TrailLayout
from irkit.config import AgentSettings, LogArchiveSettings
from irkit.core.journal import Journal
from irkit.errors import AwsCallError

ARCHIVE_WAIT_SECONDS = 1.0
"""How long containment waits for the archive probe at most (measured on moto: the probe answers in ~0.9 s)."""

READS_ARCHIVE = frozenset({"collect", "verify"})


@dataclass(frozen=True, slots=True)
class ArchiveProbe:
    where: str
    problem: str = ""

    def to_json(self) -> dict[str, str]:
        return {"where": self.where, "problem": self.problem, "readable": "no" if self.problem else "yes"}


def probe_archive(clients: Clients, archive: LogArchiveSettings, agent: AgentSettings) -> ArchiveProbe:
    """List one log key of the agent's account in the archive (reads only, fails fast)."""
    account = archive.accounts[0] if archive.accounts else agent.account
    prefix = TrailLayout(archive.bucket, archive.prefix, archive.organization_id).region_root(account)
    where = f"s3://{archive.bucket}/{prefix}"
    if archive.role_arn:
        try:
            clients.archive_aws()
        except AwsCallError as exc:
            return ArchiveProbe(
                where, f"cannot assume the log-reader role {archive.role_arn} (log_archive.role_arn): {exc.code}"
            )
    s3 = clients.archive("s3", quick=True)
    try:
        listing = aws_call(
            "s3:ListBucket", where, lambda: s3.list_objects_v2(Bucket=archive.bucket, Prefix=prefix, MaxKeys=1)
        )
    except AwsCallError as exc:
        hint = {
            "NoSuchBucket": "the bucket does not exist (check log_archive.bucket)",
            "AccessDenied": "access denied (the log-reader role needs s3:ListBucket and s3:GetObject)",
        }.get(exc.code, str(exc).split(" failed: ", 1)[-1])
        return ArchiveProbe(where, f"{exc.code}: {hint}")
    if not listing.get("KeyCount") and not listing.get("Contents"):
        return ArchiveProbe(
            where, "no CloudTrail log under this prefix (check log_archive.prefix, organization_id and accounts)"
        )
    return ArchiveProbe(where)


class Preflight:
    """The archive probe in the background; said once, loudly if it found a problem."""

    def __init__(
        self,
        clients: Clients,
        archive: LogArchiveSettings | None,
        agent: AgentSettings,
        *,
        identity: Identity,
        journal: Journal,
        echo: Callable[[str], None],
    ) -> None:
        self.identity = identity
        self.journal = journal
        self.echo = echo
        self._result: ArchiveProbe | None = None
        self._said = False
        self._done = threading.Event()
        self._thread: threading.Thread | None = None
        if archive is not None:
            def run() -> None:
                try:
                    self._result = probe_archive(clients, archive, agent)
                except Exception as exc:  # a probe that breaks must not break the run: it is a warning
                    self._result = ArchiveProbe(f"s3://{archive.bucket}", f"archive check failed: {exc}")
                finally:
                    self._done.set()

            self._thread = threading.Thread(target=run, name="irkit-archive-probe", daemon=True)
            self._thread.start()
        else:
            self._done.set()

    def start_of_run(self) -> None:
        """Say who irkit runs as; wait briefly for the archive so that a problem is said before containment."""
        who = self.identity
        if who.problem:
            self.echo(f"! WARNING: could not confirm who irkit runs as: {who.problem}; containment is tried anyway")
        else:
            self.echo(f"  running as {who.arn}" + (f" (credentials from {who.source})" if who.source else ""))
        self.journal.append("preflight", caller=who.arn, account=who.account, source=who.source,
                            problem=who.problem)  # fmt: skip
        self._done.wait(ARCHIVE_WAIT_SECONDS)
        if self._done.is_set():
            self._say()
        else:
            self.echo("  log archive: still being checked; containment goes first")

    def before_step(self, step_type: str) -> None:
        if self._said:
            return
        if step_type in READS_ARCHIVE:
            self._done.wait()
        if self._done.is_set():
            self._say()

    def _say(self) -> None:
        if self._said:
            return
        self._said = True
        result = self._result
        if result is None:
            return
        self.journal.append("preflight.archive", **result.to_json())
        if result.problem:
            self.echo(
                f"! WARNING: the log archive {result.where} is NOT readable: {result.problem}. "
                "Containment runs anyway; collection will fall back to LookupEvents (UNVERIFIED)"
            )
        else:
            self.echo(f"  log archive {result.where} readable")

"""Start or resume a case: build the context from a configuration and run the runbook.

Both ``irkit contain`` and ``irkit drill`` come through :func:`start_run`; ``irkit resume`` through
:func:`resume_run`, which reloads the configuration and runbook copied into the case when it began.
Either holds the case's lock (:mod:`irkit.core.lock`) from before the first byte is written or
read back until the run ends: a second run of the same case refuses, naming the first.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path

from irkit.aws.session import Aws, Clients, Identity, StaticCredentials
from irkit.config import Settings, dump_config, load_config
from irkit.core.case import Case, CaseMeta, new_case_id, utcnow
from irkit.core.context import RunContext
from irkit.engine.executor import Confirm, Executor, RunOutcome
from irkit.engine.preflight import Preflight
from irkit.engine.runbook import Runbook, read_runbook_file
from irkit.errors import CaseError, Terminated, UsageError

# Ten years: beyond any CloudTrail archive worth reading, and inside what datetime can subtract.
MAX_HOURS = 24 * 366 * 10

@dataclass
class RunResult:
    case: Case
    outcome: RunOutcome


def start_run(
    settings: Settings,
    *,
    agent_name: str,
    runbook: Runbook,
    hours: float,
    out: Path,
    dry_run: bool = False,
    assume_yes: bool = False,
    case_id: str | None = None,
    config_file: Path | None = None,
    credentials: StaticCredentials | None = None,
    echo: Callable[[str], None] = print,
    confirm: Confirm | None = None,
    now: datetime | None = None,
    max_actions: int = 200,
    command: str | None = None,
) -> RunResult:
    if not math.isfinite(hours) or hours <= 0:
        raise UsageError("--hours must be positive")
    if hours > MAX_HOURS:
        raise UsageError(f"--hours {hours:g} reaches back more than ten years (at most {MAX_HOURS})")
    settings.agent(agent_name)  # an unknown agent fails before a case folder exists
    # So does a missing AWS profile: the session is made before anything is written. And so do
    # credentials that do not resolve or that AWS refuses (exit 2): nothing could be contained.
    aws = Aws(settings.aws, dry_run=dry_run, credentials=credentials)
    identity = aws.identity()
    now = now or utcnow()
    start = now - timedelta(hours=hours)
    meta = CaseMeta(
        case_id=case_id or new_case_id(agent_name, now),
        agent=agent_name,
        runbook=runbook.name,
        hours=hours,
        dry_run=dry_run,
        created=now.isoformat(timespec="seconds"),
        window_start=start.isoformat(timespec="seconds"),
        window_end=now.isoformat(timespec="seconds"),
        max_actions=max_actions,
    )
    # The case keeps the configuration it ran with (resume reads it back): the file as written,
    # comments included, or the settings themselves when they were built in code.
    if config_file is not None and config_file.exists():
        config_text = config_file.read_text(encoding="utf-8")
    else:
        config_text = dump_config(settings)
    command = command or f"irkit contain {agent_name} --case {meta.case_id}" + (" --dry-run" if dry_run else "")
    case = Case.create(out, meta, config_text=config_text, runbook_text=runbook.text, command=command)
    with case:
        echo(f"case {meta.case_id} → {case.root}" + ("  [DRY RUN: no change will be made]" if dry_run else ""))
        return _execute(
            settings, case, runbook, aws, assume_yes=assume_yes, approvals=(), echo=echo, confirm=confirm,
            identity=identity,
        )  # fmt: skip


def resume_run(
    root: Path,
    *,
    approvals: Sequence[str] = (),
    assume_yes: bool = False,
    credentials: StaticCredentials | None = None,
    echo: Callable[[str], None] = print,
    confirm: Confirm | None = None,
    command: str | None = None,
    max_actions: int | None = None,
    aws: Callable[[Settings], Settings] | None = None,
) -> RunResult:
    """``aws`` adjusts the case's configuration for this resume only (--profile / --region)."""
    if max_actions is not None and max_actions < 0:
        raise UsageError("--max-actions must be 0 or more")
    with Case.open(root, command=command or f"irkit resume {root}") as case:
        if not case.config_copy.exists():
            raise CaseError(f"{root}: the case has no copy of its configuration (irkit.yaml)")
        settings = load_config(case.config_copy)
        if aws is not None:
            settings = aws(settings)
        runbook = read_runbook_file(case.runbook_copy)
        session = Aws(settings.aws, dry_run=case.meta.dry_run, credentials=credentials)
        identity = session.identity()  # no credentials: exit 2 before the journal is touched
        echo(f"resuming case {case.case_id}")
        stale = case.lock.stale if case.lock else None
        if stale is not None:
            # Only a run that died without releasing the case (SIGKILL, power loss) leaves its note.
            case.journal.append("run.interrupted", **stale.to_json())
            echo(f"  note: the previous run, {stale.describe()}, ended without finishing; going on from its journal")
        # case.json is written once; a resume's --max-actions is journaled and holds for later resumes.
        cap = max_actions if max_actions is not None else _journaled_max_actions(case)
        if cap is not None and cap != case.meta.max_actions:
            if max_actions is not None:
                case.journal.append("run.options", max_actions=cap, before=case.meta.max_actions)
                echo(f"  max actions: {cap} (was {case.meta.max_actions})")
            case.meta = replace(case.meta, max_actions=cap)
        return _execute(
            settings, case, runbook, session,
            assume_yes=assume_yes, approvals=approvals, echo=echo, confirm=confirm, identity=identity,
            archive_probe=False,
        )  # fmt: skip


def _journaled_max_actions(case: Case) -> int | None:
    cap = None
    for entry in case.journal.entries():
        if entry["kind"] == "run.options" and isinstance(entry["data"].get("max_actions"), int):
            cap = int(entry["data"]["max_actions"])
    return cap


def _execute(
    settings: Settings,
    case: Case,
    runbook: Runbook,
    aws: Aws,
    *,
    assume_yes: bool,
    approvals: Sequence[str],
    echo: Callable[[str], None],
    confirm: Confirm | None,
    identity: Identity,
    archive_probe: bool = True,
) -> RunResult:
    dry_run = aws.dry_run
    clients = Clients(aws, settings.log_archive.role_arn if settings.log_archive else None)
    preflight = Preflight(
        clients,
        settings.log_archive if archive_probe else None,
        settings.agent(case.meta.agent),
        identity=identity,
        journal=case.journal,
        echo=echo,
    )
    ctx = RunContext(
        settings=settings,
        agent=settings.agent(case.meta.agent),
        case=case,
        aws=aws,
        journal=case.journal,
        window_start=datetime.fromisoformat(case.meta.window_start),
        window_end=datetime.fromisoformat(case.meta.window_end),
        dry_run=dry_run,
        echo=echo,
        clients=clients,
    )
    executor = Executor(
        ctx, runbook, assume_yes=assume_yes, approvals=approvals, confirm=confirm, before_step=preflight.before_step
    )
    try:
        preflight.start_of_run()
        outcome = executor.run()
        preflight.before_step("collect")  # a runbook without collect still hears what the probe found
    except KeyboardInterrupt as exc:
        _interrupted(case, executor, exc, echo)
        raise
    return RunResult(case, outcome)


def _interrupted(case: Case, executor: Executor, exc: KeyboardInterrupt, echo: Callable[[str], None]) -> None:
    """Ctrl-C or SIGTERM: journal where the run stopped and say the exact command that continues it."""
    by = "SIGTERM" if isinstance(exc, Terminated) else "SIGINT (Ctrl-C)"
    try:
        done = any(e["kind"] == "run.end" for e in case.journal.entries()[-1:])
    except (CaseError, OSError, ValueError):  # a line torn by the interrupt itself: say less, not nothing
        done = False
    where = (
        f"during step {executor.current[0]} ({executor.current[1]})"
        if executor.current
        else "after the last step" if done else "between steps"
    )
    command = f"irkit resume {shlex.quote(str(case.root))}"
    try:
        # A fresh view of the journal: the interrupt may have landed inside an append (after the
        # write, before the in-memory chain moved on); reading the file back keeps the chain whole.
        type(case.journal)(case.journal.path).append(
            "run.interrupted", by=by, at_step=executor.current[0] if executor.current else None,
            note=f"interrupted {where}; {command} continues",
        )  # fmt: skip
        journaled = ""
    except (CaseError, OSError) as err:
        journaled = f" (the interruption could not be journaled: {err})"
    echo("")
    echo(f"✗ interrupted by {by} {where}{journaled}")
    echo(f"  continue with: {command}")

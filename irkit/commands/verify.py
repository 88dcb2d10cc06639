"""`irkit verify PATH`: check the digest chain over a local copy of a CloudTrail archive.

Exit 0 when every digest and log verifies, 1 on any integrity problem, 2 when there is nothing
to verify with (no such path, no trusted public key).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import orjson
import typer

from irkit.errors import ExitCode, UsageError
from irkit.escape import terminal

if TYPE_CHECKING:  # the verifier loads cryptography and botocore: imported when a chain is verified
    from irkit.cloudtrail.digest import PublicKeyRing, VerifyReport


def _keys(public_keys: list[Path], config: Path | None) -> PublicKeyRing:
    from irkit.cloudtrail.digest import load_public_keys

    files = list(public_keys)
    if not files:
        # Without --public-key, the trusted keys of irkit.yaml (when there is one) are used.
        from irkit.config import load_config, resolve_config_path

        path = resolve_config_path(config)
        if config is not None or path.is_file():
            settings = load_config(path)
            if settings.log_archive is not None:
                files = list(settings.log_archive.public_keys)
    ring = load_public_keys(None, files)
    if not len(ring):
        raise UsageError("no trusted public key: pass --public-key FILE (PEM or DER) or set log_archive.public_keys")
    return ring


def run_verify(path: Path, keys: PublicKeyRing) -> VerifyReport:
    from irkit.cloudtrail.digest import verify_evidence

    if not path.exists():
        raise UsageError(f"{path}: no such file or directory")
    if not path.is_dir():
        raise UsageError(f"{path}: expected a folder that mirrors the archive's S3 keys")
    report = verify_evidence(path, keys)
    if not (report.digests_checked or report.logs_checked or report.problems or report.pending):
        raise UsageError(f"{path}: no CloudTrail logs or digests found (expected AWSLogs/… keys below it)")
    return report


def render(report: VerifyReport) -> str:
    lines = [
        f"digests checked: {report.digests_checked}   logs checked: {report.logs_checked}   "
        f"pending (newer than the newest digest): {len(report.pending)}"
    ]
    if report.problems:
        width = max(len(p.kind) for p in report.problems)
        lines.append("")
        lines.append(f"{'PROBLEM'.ljust(width)}  PATH / DETAIL")
        for p in report.problems:
            lines.append(f"{p.kind.ljust(width)}  {p.path}")
            lines.append(f"{''.ljust(width)}    {p.detail}")
        lines.append("")
        lines.append(f"INTEGRITY FAILURE: {len(report.problems)} problem(s); see docs/evidence.md")
    else:
        lines.append("OK: the digest chain and every log it lists verify")
    return "\n".join(lines)


def register(app: typer.Typer) -> None:
    @app.command("verify")
    def verify(
        path: Annotated[Path, typer.Argument(help="A folder mirroring the archive's keys (e.g. a case's evidence/).")],
        public_key: Annotated[
            list[Path] | None,
            typer.Option("--public-key", help="Trusted CloudTrail public key (PEM or DER); repeatable."),
        ] = None,
        config: Annotated[
            Path | None, typer.Option("--config", help="irkit.yaml (for log_archive.public_keys).")
        ] = None,
        as_json: Annotated[bool, typer.Option("--json", help="One JSON object on stdout.")] = False,
    ) -> None:
        """Verify the CloudTrail digest chain over a local copy of an archive (awscli cannot).

        Example: irkit verify ./archive-copy --public-key keys/cloudtrail-2026.pem

        Exit codes: 0 the chain is intact · 1 an integrity failure (each named) · 2 usage error.
        """
        keys = _keys(list(public_key or []), config)
        report = run_verify(path, keys)
        for note in report.notes:
            typer.secho(f"irkit: warning: {terminal(note)}", err=True, fg=typer.colors.YELLOW)
        if as_json:
            typer.echo(orjson.dumps(report.to_json()).decode())
        else:
            typer.echo(terminal(render(report), newlines=True))  # keys and paths come from the archive
        raise typer.Exit(int(ExitCode.OK if report.ok else ExitCode.STEP_FAILED))

"""The ``irkit`` command line: parse, dispatch to a command module, turn errors into exit codes.

Each command lives in ``irkit/commands/<name>.py`` and registers itself on the app; this module
only assembles them and owns the one place where an :class:`IrkitError` becomes a message and an
exit code (never a traceback, never a local variable that might hold a secret).
"""

from __future__ import annotations

import signal
import sys
import threading
from typing import Any

import orjson
import typer
from typer.core import TyperOption

from irkit import __version__
from irkit.commands import COMMAND_MODULES
from irkit.commands import journal as journal_command
from irkit.errors import ExitCode, IrkitError, Terminated
from irkit.escape import terminal
from irkit.redact import redact_text


def _no_flag_metavar() -> None:
    """Typer ≥ 0.26 shows ``<bool>`` beside every on/off flag (``--yes <bool>``) as if it took a
    value: a flag takes none, so its help shows none (awscli, prowler and Custodian show none)."""
    original = getattr(TyperOption, "display_type_rich", None)
    if original is None or getattr(original, "_irkit", False):
        return

    def display_type_rich(self: TyperOption, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) and self.metavar is None:
            return None
        return original(self, ctx)  # type: ignore[no-any-return]

    display_type_rich._irkit = True  # type: ignore[attr-defined]
    TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]


_no_flag_metavar()

app = typer.Typer(
    name="irkit",
    help="Incident response for AI agents that hold AWS credentials.",
    no_args_is_help=True,
    add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
)

def _version(value: bool) -> None:
    if value:
        typer.echo(f"irkit {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="print irkit's version and exit"
    ),
) -> None:
    """Incident response for AI agents that hold AWS credentials.

    Exit codes: 0 done · 1 a step failed (analyze --fail-on: a finding at or above) · 2 usage or
    configuration error (no AWS credentials included, before any step) · 3 done with coverage gaps ·
    4 stopped, awaiting approval (irkit resume CASE --approve STEP) · 130 interrupted (irkit resume
    CASE continues).
    """


for _module in COMMAND_MODULES:
    _module.register(app)
journal_command.register(app)


def _json_error(code: str, message: str) -> None:
    """Under --json a script reads stdout: the error is there too, as one JSON object."""
    sys.stdout.write(orjson.dumps({"error": {"code": code, "message": redact_text(message)}}).decode() + "\n")


def _on_sigterm(signum: int, frame: object) -> None:
    raise Terminated()


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code instead of raising for IrkitError."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json = "--json" in args[: args.index("--")] if "--" in args else "--json" in args
    # SIGTERM stops a run the way Ctrl-C does (journaled, the resume command printed, exit 130).
    # Signal handlers belong to the main thread; anywhere else (a test runner's thread) nothing is installed.
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _main(argv, as_json=as_json)
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str] | None, *, as_json: bool) -> int:
    try:
        code = app(args=argv, prog_name="irkit", standalone_mode=False)
    except IrkitError as exc:
        typer.secho(terminal(redact_text(f"irkit: error: {exc}")), err=True, fg=typer.colors.RED)
        if as_json:
            _json_error(type(exc).__name__, str(exc))
        return int(exc.exit_code)
    except typer.Exit as exc:
        return int(exc.exit_code)
    except typer.Abort:
        typer.secho("irkit: aborted", err=True)
        return int(ExitCode.STEP_FAILED)
    except KeyboardInterrupt:  # (typer answers a KeyboardInterrupt with exit 130 itself: see below)
        return _say_interrupted(as_json=as_json)
    except OSError as exc:
        if exc.filename is None:  # not about a path the user gave: fall through to internal error
            return _internal_error(exc, as_json=as_json)
        # A path the user passed (--out, --path, …) that cannot be created or written.
        where = exc.filename if exc.filename2 is None else f"{exc.filename} → {exc.filename2}"
        typer.secho(terminal(redact_text(f"irkit: error: {where}: {exc.strerror}")), err=True, fg=typer.colors.RED)
        if as_json:
            _json_error("PathError", f"{where}: {exc.strerror}")
        return int(ExitCode.USAGE)
    except Exception as exc:
        import click

        # Typer ≥ 0.26 raises its own vendored click's exceptions, which are not click's: a bad
        # option value or a missing argument must still read as a usage error (exit 2).
        show = getattr(exc, "show", None)
        if isinstance(exc, click.ClickException | typer.TyperException) and callable(show):
            show()
            if as_json:
                fmt = getattr(exc, "format_message", None)
                _json_error("UsageError", str(fmt() if callable(fmt) else exc))
            return int(ExitCode.USAGE)
        return _internal_error(exc, as_json=as_json)
    # Outside standalone mode click returns a typer.Exit's code instead of raising it; typer turns a
    # KeyboardInterrupt (Ctrl-C, and SIGTERM above) into 130 the same way. A run said where it stopped
    # and how to continue before it got here; every command says it was interrupted.
    if code == ExitCode.INTERRUPTED:
        return _say_interrupted(as_json=as_json)
    return code if isinstance(code, int) else int(ExitCode.OK)


def _say_interrupted(*, as_json: bool) -> int:
    typer.secho("irkit: interrupted (exit 130)", err=True, fg=typer.colors.RED)
    if as_json:
        _json_error("Interrupted", "interrupted by a signal (Ctrl-C or SIGTERM)")
    return int(ExitCode.INTERRUPTED)


def _internal_error(exc: BaseException, *, as_json: bool = False) -> int:
    # An unexpected error's text may quote anything it touched: mask registered secrets too.
    message = terminal(redact_text(f"irkit: internal error: {type(exc).__name__}: {exc}"))
    typer.secho(message, err=True, fg=typer.colors.RED)
    if as_json:
        _json_error("InternalError", f"{type(exc).__name__}: {exc}")
    return int(ExitCode.STEP_FAILED)


def entry() -> None:
    sys.exit(main())

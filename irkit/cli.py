"""The ``irkit`` command line: parse, dispatch to a command module, turn errors into exit codes.

Each command lives in ``irkit/commands/<name>.py`` and registers itself on the app; this module
only assembles them and owns the one place where an :class:`IrkitError` becomes a message and an
exit code (never a traceback, never a local variable that might hold a secret).

A run imports only the command it runs: ``irkit analyze …`` builds an app holding the root options
and ``analyze`` alone (it parses and helps exactly as the full one does for that word); no command
word, ``--help``, a word that is no command, or shell completion build the full app, every command
in ``irkit --help``'s order. ``irkit.cli.app`` is the full app, built when first asked for.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperOption

from irkit import __version__
from irkit.commands import COMMAND_NAMES, command_module
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


def _plain_parameters() -> None:
    """Typer ≥ 0.29 converts every parameter through a pydantic ``TypeAdapter``: pydantic is imported
    and adapters built before a command's first line runs — most of ``irkit analyze``'s start-up
    after its own imports. A plain ``str``, ``Path`` (no path checks asked) or list of them is
    converted here as typer would (``str(value)``, ``Path(value)``); anything else — numbers with
    bounds, callbacks, parsers, path checks — still goes through typer's own adapters."""
    try:
        from typer._coercion import RuntimeParam, build_runtime_param
        from typer.core import _TyperParameter
    except ImportError:  # another typer: nothing to do
        return
    found_original = getattr(_TyperParameter, "get_runtime_param", None)
    if found_original is None or getattr(found_original, "_irkit", False):
        return
    original: Callable[[Any], Any] = found_original

    path_checks = ("exists", "resolve_path", "allow_dash", "writable", "executable", "path_type")

    def plain(annotation: Any, info: Any) -> tuple[type, type] | None:
        """(the CLI value's type taken as is, its conversion) for a plain parameter; None otherwise."""
        if getattr(info, "parser", None) is not None:
            return None
        if annotation is bool:  # a flag's value is a bool already; anything else goes to typer
            return bool, bool
        if annotation is str:
            return str, str
        checks = any(getattr(info, flag, None) for flag in path_checks)
        if annotation is Path and not checks and getattr(info, "file_okay", True) and getattr(info, "dir_okay", True):
            return str, Path
        return None

    class _Plain(RuntimeParam):
        takes: type = str
        convert: type = str
        many: bool = False

        def _coerce_value(self, value: Any, param: Any, ctx: Any) -> Any:
            takes, convert = self.takes, self.convert
            if self.many:
                items = value if isinstance(value, list | tuple) else [value]
                if all(type(item) is takes or isinstance(item, convert) for item in items):
                    return [convert(item) for item in items]
            elif type(value) is takes or isinstance(value, convert):  # a CLI string, or a default already typed
                return convert(value)
            # bytes, a subclass, anything odd: typer's own conversion (built once, only then)
            fallback = build_runtime_param(param.type_descriptor)
            return fallback.coerce(value, param=param, ctx=ctx)

    def get_runtime_param(self: Any) -> Any:
        if self._runtime_param is None:
            descriptor = self.type_descriptor
            annotation, info = descriptor.annotation, descriptor.parameter_info
            many = getattr(annotation, "__origin__", None) is list and len(getattr(annotation, "__args__", ())) == 1
            found = plain(annotation.__args__[0] if many else annotation, info)
            if found is None or descriptor.file_annotation is not None or (many and found[0] is bool):
                return original(self)
            runtime = _Plain(parameter_info=info, annotation=annotation)
            object.__setattr__(runtime, "takes", found[0])
            object.__setattr__(runtime, "convert", found[1])
            object.__setattr__(runtime, "many", many)
            self._runtime_param = runtime
        return self._runtime_param

    get_runtime_param._irkit = True  # type: ignore[attr-defined]
    _TyperParameter.get_runtime_param = get_runtime_param  # type: ignore[method-assign]


_plain_parameters()

PROG_NAME = "irkit"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"irkit {__version__}")
        raise typer.Exit(0)


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


_ABOUT_EVERY_COMMAND = ("--help", "--install-completion", "--show-completion")
"""The root options (besides ``--version``) that answer about every command: help lists them,
completion completes them."""


@cache
def build_app(commands: tuple[str, ...] = COMMAND_NAMES) -> typer.Typer:
    """The app: the root options and ``commands`` (each imported now), in that order."""
    built = typer.Typer(
        name=PROG_NAME,
        help="Incident response for AI agents that hold AWS credentials.",
        no_args_is_help=True,
        add_completion=True,  # --install-completion / --show-completion for bash, zsh, fish, PowerShell
        pretty_exceptions_enable=False,
        pretty_exceptions_show_locals=False,
    )
    built.callback()(_root)
    for name in commands:
        command_module(name).register(built)
    return built


def commands_for(args: list[str]) -> tuple[str, ...]:
    """The commands an app must hold to run ``args`` exactly as the full app would.

    The command word is the first argument not starting with "-": when it names a command, that
    command alone. Every command when there is no word (``irkit``), when a root ``--help`` or
    completion option comes before it, when it names no command (typer's own error comes from the
    full app), or when the shell asks for completions. No command for ``irkit --version`` alone."""
    if f"_{PROG_NAME.upper()}_COMPLETE" in os.environ:  # typer's shell-completion request
        return COMMAND_NAMES
    for arg in args:
        if not arg.startswith("-"):
            return (arg,) if arg in COMMAND_NAMES else COMMAND_NAMES
        if arg.split("=", 1)[0] in _ABOUT_EVERY_COMMAND:
            return COMMAND_NAMES
    return () if "--version" in args else COMMAND_NAMES


def __getattr__(name: str) -> typer.Typer:
    """``irkit.cli.app``: the full app, built on first use (``from irkit.cli import app``)."""
    if name == "app":
        full = build_app()
        globals()["app"] = full
        return full
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _json_error(code: str, message: str) -> None:
    """Under --json a script reads stdout: the error is there too, as one JSON object."""
    import orjson

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
        # ``app`` set on this module (asked for, or replaced by a test) runs as it is; otherwise the
        # invoked command's own app, so a run imports only the command it runs.
        run = globals().get("app") or build_app(commands_for(list(sys.argv[1:] if argv is None else argv)))
        code = run(args=argv, prog_name=PROG_NAME, standalone_mode=False)
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

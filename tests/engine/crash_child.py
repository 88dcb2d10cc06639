"""The child side of the crash harness: run the ``irkit`` command line in a process of its own.

A forkserver (single-threaded, irkit already imported) forks one of these per run, so a run starts
in milliseconds instead of re-importing boto3 each time; it is still a separate process, killed for
real by the journal's test-only crash hook (``IRKIT_TEST_CRASH_JOURNAL``).
"""

from __future__ import annotations

import os
import sys

import irkit.cli  # noqa: F401 - preloaded in the forkserver: what a child no longer has to import


def run_irkit(argv: list[str], env: dict[str, str], log: str) -> None:
    os.environ.pop("IRKIT_TEST_CRASH_JOURNAL", None)
    os.environ.update(env)
    fd = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from irkit.cli import main

    code = main(argv)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)

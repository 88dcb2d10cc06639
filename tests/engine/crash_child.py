"""The child side of the crash harness: run the ``irkit`` command line in a process of its own.

A forkserver (single-threaded, irkit already imported) forks one of these per run, so a run starts
in milliseconds instead of re-importing boto3 each time; it is still a separate process, killed for
real by the journal's test-only crash hook (``IRKIT_TEST_CRASH_JOURNAL``).

For speed only, the forkserver also shares one botocore data loader between sessions (botocore
makes a new one, and re-parses the same service-model JSON, for every session): the models are
static files, so what a run does is unchanged; a fresh interpreter (the harness's console-script
runs) does not have this and behaves the same.
"""

from __future__ import annotations

import functools
import os
import sys

import botocore.loaders
import botocore.session

import irkit.cli  # noqa: F401 - preloaded in the forkserver: what a child no longer has to import


@functools.cache
def _shared_loader(data_path: str | None) -> botocore.loaders.Loader:
    return botocore.loaders.create_loader(data_path)


botocore.session.create_loader = _shared_loader  # type: ignore[attr-defined]
for _service in ("iam", "sts"):  # warm it: every child inherits the parsed models
    botocore.session.get_session().create_client(
        _service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )


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

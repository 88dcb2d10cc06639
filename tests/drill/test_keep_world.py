"""--keep-world: the simulator stays up after the drill, answers boto3, says what to run, stops on Ctrl-C;
Ctrl-C during a drill says how to continue."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import boto3
import pytest

from irkit.drill import runner
from irkit.drill.scenarios import all_scenarios
from irkit.drill.world import AGENT_ROLE, AGENT_USER

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _closed(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_keep_world_leaves_a_world_that_answers_until_ctrl_c(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from irkit.cli import main; sys.exit(main())",
            "drill",
            "hidden-admin-role",
            "--keep-world",
            "--keep-world-minutes",
            "10",
            "--out",
            str(tmp_path),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        endpoint = None
        for line in proc.stdout:
            lines.append(line)
            found = re.search(r"world stays up at (http://127\.0\.0\.1:\d+)", line)
            if found:
                endpoint = found.group(1)
            if line.strip().startswith("irkit contain"):
                break  # the last of the commands printed: the server is waiting
        assert endpoint is not None, "".join(lines)
        text = "".join(lines)
        config = re.search(r"Its irkit.yaml: (\S+)", text)
        assert config is not None and Path(config.group(1)).is_file()
        for command in ("irkit resume", "irkit restore", "irkit revert", "irkit analyze"):
            assert command in text
        # The settings to use come as a file to source: a masked export would not work when pasted.
        assert "redacted" not in text
        sourced = re.search(r"source (\S+)", text)
        assert sourced is not None
        exports = dict(
            line.removeprefix("export ").split("=", 1) for line in Path(sourced.group(1)).read_text().splitlines()
        )
        assert Path(exports["IRKIT_CONFIG"]) == Path(config.group(1)).resolve()
        assert exports["AWS_ACCESS_KEY_ID"] and exports["AWS_SECRET_ACCESS_KEY"]
        # The kept world is the drill's, after the run: the agent contained, its role still there.
        session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
        iam = session.client("iam", endpoint_url=endpoint)
        assert iam.get_role(RoleName=AGENT_ROLE)["Role"]["RoleName"] == AGENT_ROLE
        keys = iam.list_access_keys(UserName=AGENT_USER)["AccessKeyMetadata"]
        assert keys and all(k["Status"] == "Inactive" for k in keys)
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
        lines.append(rest)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert "stopping the simulator" in "".join(lines)
    assert proc.returncode == 0  # the drill passed; Ctrl-C only ended the wait
    port = int(endpoint.rsplit(":", 1)[1])
    deadline = time.monotonic() + 10
    while not _closed(port) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _closed(port)


def test_keep_serving_stops_after_its_minutes_and_says_so(tmp_path: Path) -> None:
    said: list[str] = []
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    runner.keep_serving(
        "http://127.0.0.1:1",
        tmp_path / "x.irkit.yaml",
        tmp_path / "CASE",
        0.05,
        echo=said.append,
        sleep=sleep,
        clock=lambda: clock[0],
    )
    assert said[-1] == "drill: 0.05 minutes passed: stopping the simulator"
    assert any("irkit resume" in line and "CASE" in line for line in said)
    assert clock[0] >= 3.0


def test_ctrl_c_during_a_drill_says_how_to_continue(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(*_args: object, **_kwargs: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "start_run", interrupted)
    said: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        runner.run_scenario(all_scenarios()["hidden-admin-role"], out=tmp_path, echo=said.append)
    assert any("interrupted" in line and "--keep-world" in line for line in said), said

"""`irkit analyze` text output: escape sequences in CloudTrail fields are shown, never sent."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from irkit.cli import main
from irkit.detect.records import record

TITLE = "\x1b]0;owned terminal title\x07"
LINK = "\x1b]8;;http://evil.example/\x1b\\click me\x1b]8;;\x1b\\"
CLEAR = "\x1b[2J\x1b[H"
C1_CSI = "\x9b31m"


def test_analyze_text_output_sends_no_escape_byte(tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]) -> None:
    records = [
        # a rule quotes the role name in its detail; the chain lists the user name and event name
        record("CreateRole", "iam.amazonaws.com", request={"roleName": f"r{TITLE}{LINK}{CLEAR}"}, error="AccessDenied"),
        record("CreateUser", "iam.amazonaws.com", request={"userName": f"u{CLEAR}{C1_CSI}"}, event_id=f"e{TITLE}"),
    ]
    log = tmp_path / "trail.json"
    log.write_text(json.dumps({"Records": records}))
    (tmp_path / "bad\x1b[2J.json").write_text("{not json")  # a gap names the file
    code = main(["analyze", str(tmp_path)])
    out = capsysbinary.readouterr()
    assert code == 3
    assert b"iam_role_created" in out.out and b"iam_user_created" in out.out
    for stream in (out.out, out.err):
        assert b"\x1b" not in stream and b"\x07" not in stream and "\x9b".encode() not in stream
    assert b"\\x1b]0;owned terminal title\\x07" in out.out  # shown as text
    assert b"bad\\x1b[2J.json" in out.out


def test_an_error_naming_a_hostile_path_sends_no_escape_byte(
    tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    assert main(["analyze", str(tmp_path / f"missing{TITLE}{CLEAR}")]) == 2
    err = capsysbinary.readouterr().err
    assert b"no such file or folder" in err
    assert b"\x1b" not in err and b"\x07" not in err

"""Archive keys are data: which keys become paths, and that no accepted key escapes or aliases."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from irkit.cloudtrail.keys import (
    REFUSED,
    KeyRefused,
    PathAssigner,
    display,
    evidence_path,
    folding,
    refusal,
)

LOG = (
    "AWSLogs/o-abc123def4/111111111111/CloudTrail/us-east-1/2026/11/25/"
    "111111111111_CloudTrail_us-east-1_20261125T0105Z_ab.json.gz"
)

# Segments an attacker would try, and arbitrary text.
SEGMENTS = st.one_of(
    st.sampled_from(
        ["", ".", "..", "...", "..a", "a..", "a", "A", "AWSLogs", "x.json.gz", "\u00e9", "e\u0301", " ", "\\",
         "..\\..", "\x00", "\n", "\x7f", "\u202e", "\ud800", "a" * 256]
    ),
    st.text(max_size=12),
)  # fmt: skip
KEYS = st.one_of(st.lists(SEGMENTS, min_size=1, max_size=8).map("/".join), st.text(max_size=60))
FAST = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def test_a_cloudtrail_key_is_accepted_and_maps_to_its_own_path(tmp_path: Path) -> None:
    assert refusal(LOG) is None
    assert evidence_path(tmp_path, LOG) == tmp_path.joinpath(*LOG.split("/"))


@pytest.mark.parametrize(
    ("key", "why"),
    [
        ("", "empty key"),
        ("/etc/passwd", "starts with /"),
        ("AWSLogs//x.json.gz", "empty segment"),
        ("AWSLogs/x.json.gz/", "empty segment"),
        ("AWSLogs/./x.json.gz", "'.' segment"),
        (f"{LOG.rsplit('/', 5)[0]}/../../../../us-east-1/2026/11/25/x.json.gz", "'..' segment"),
        ("..", "'..' segment"),
        ("AWSLogs\\..\\x.json.gz", "backslash"),
        ("AWSLogs/x\x00.json.gz", "NUL"),
        ("AWSLogs/x\n.json.gz", "control character"),
        ("AWSLogs/x\u202e.json.gz", "control character"),
        ("AWSLogs/" + "a" * 256, "longer than 255 bytes"),
        ("a/" * 600, "longer than 1024 bytes"),
    ],
)
def test_a_key_that_is_not_a_plain_relative_name_is_refused(tmp_path: Path, key: str, why: str) -> None:
    reason = refusal(key)
    assert reason is not None and why in reason
    with pytest.raises(KeyRefused) as caught:
        evidence_path(tmp_path, key)
    assert str(caught.value).startswith(REFUSED)
    assert not any(tmp_path.iterdir())


def test_a_symlink_in_the_folder_cannot_carry_a_key_outside(tmp_path: Path) -> None:
    root, outside = tmp_path / "evidence", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (root / "AWSLogs").symlink_to(outside)
    with pytest.raises(KeyRefused, match="resolves outside"):
        evidence_path(root, LOG)


@FAST
@given(key=KEYS)
def test_an_accepted_key_always_resolves_to_itself_inside_the_folder(tmp_path: Path, key: str) -> None:
    root = tmp_path / "evidence"
    if refusal(key) is None:
        path = evidence_path(root, key)
        assert path.resolve().is_relative_to(root.resolve())
        assert path.relative_to(root).as_posix() == key  # one key, one path: no two keys share one
    else:
        with pytest.raises(KeyRefused):
            evidence_path(root, key)


@FAST
@given(first=KEYS, second=KEYS)
def test_two_accepted_keys_never_name_one_file(tmp_path: Path, first: str, second: str) -> None:
    if first != second and refusal(first) is None and refusal(second) is None:
        a, b = evidence_path(tmp_path, first), evidence_path(tmp_path, second)
        assert os.path.normpath(a) != os.path.normpath(b)


@FAST
@given(keys=st.lists(KEYS, max_size=6))
def test_an_assignment_never_gives_two_keys_one_file_even_where_case_folds(tmp_path: Path, keys: list[str]) -> None:
    paths, refused = PathAssigner(tmp_path, fold=str.casefold).assign(keys)
    assert set(paths).isdisjoint(refused)
    assert set(paths) | set(refused) == set(keys)
    folded = [p.relative_to(tmp_path).as_posix().casefold() for p in paths.values()]
    assert len(folded) == len(set(folded))


def test_keys_that_fold_to_one_file_are_all_refused(tmp_path: Path) -> None:
    upper = LOG.replace("_ab.json.gz", "_AB.json.gz")
    paths, refused = PathAssigner(tmp_path, fold=str.casefold).assign([LOG, upper])
    assert paths == {}
    assert set(refused) == {LOG, upper}
    assert "same file" in refused[LOG]


def test_folding_matches_what_this_filesystem_does(tmp_path: Path) -> None:
    fold = folding(tmp_path)
    (tmp_path / "name-a").write_text("")
    assert (fold("name-a") == fold("NAME-A")) == (tmp_path / "NAME-A").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".irkit-probe")]


@FAST
@given(key=st.text(max_size=400))
def test_a_displayed_key_has_no_control_characters_and_is_bounded(key: str) -> None:
    shown = display(key)
    assert len(shown) <= 300
    assert refusal(shown) is None or not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in shown)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or 0xD800 <= ord(c) <= 0xDFFF for c in shown)

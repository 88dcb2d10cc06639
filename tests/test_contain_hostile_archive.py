"""`irkit contain` when the attacker can write to the CloudTrail archive (issue 8, evidence part).

The hidden-admin-role incident, on the drill's simulator, and then — with the stolen agent's ``s3:*``
on the archive bucket — three plants: an object whose key climbs with ``..`` from another region's
folder onto the name of the log that recorded the backdoor (holding that log minus CreateRole …
CreateAccessKey), a rewrite of that log as ``gzip(original) + gzip("x")``, a planted ``.json`` log,
and a key whose ``..`` climb out of the case folder to a sentinel directory. irkit must still find
and contain the backdoor role and key, name each plant as an integrity problem, and write nothing
outside the case folder.
"""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import orjson

from irkit.drill.runner import run_scenario
from irkit.drill.scenarios import Scenario
from irkit.drill.scenarios.hidden_admin_role import SCENARIO
from irkit.drill.world import ARCHIVE_BUCKET, HOME_REGION, World

BACKDOOR_EVENTS = {"CreateRole", "AttachRolePolicy", "CreateAccessKey"}
# evidence/ = <out>/<case>/evidence: eight key segments lead down to a day folder, so eight `..` climb
# back to evidence/, three more to the folder holding <out>.
CLIMB_TO_OUT_PARENT = 8 + 3


def _body(s3: Any, key: str) -> bytes:
    return gzip.decompress(s3.get_object(Bucket=ARCHIVE_BUCKET, Key=key)["Body"].read())


def plant(world: World, found: dict[str, str]) -> None:
    assert world.attacker is not None
    s3 = world.attacker.client("s3", HOME_REGION)
    keys = [
        str(o["Key"])
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=ARCHIVE_BUCKET, Prefix="AWSLogs/")
        for o in page.get("Contents", [])
        if "/CloudTrail/us-east-1/" in str(o["Key"])
    ]
    victim = next(k for k in keys if b'"CreateRole"' in _body(s3, k))
    original = _body(s3, victim)
    doc = orjson.loads(original)
    hidden = {"Records": [r for r in doc["Records"] if r["eventName"] not in BACKDOOR_EVENTS]}
    folder, name = victim.rsplit("/", 1)  # AWSLogs/<org>/<acct>/CloudTrail/us-east-1/YYYY/MM/DD
    day = "/".join(folder.split("/")[-3:])
    west = folder.replace("/us-east-1/", "/us-west-2/")

    # 1. A key that is, joined to a folder, the verified log's own file.
    alias = f"{west}/../../../../us-east-1/{day}/{name}"
    s3.put_object(Bucket=ARCHIVE_BUCKET, Key=alias, Body=gzip.compress(orjson.dumps(hidden)))
    # 2. A key that climbs out of the case folder.
    escape = f"{folder}/{'../' * CLIMB_TO_OUT_PARENT}sentinel/any/dir/x{name}"
    s3.put_object(Bucket=ARCHIVE_BUCKET, Key=escape, Body=gzip.compress(orjson.dumps(hidden)))
    # 3. The log itself rewritten as a new version: the original, then one more gzip member.
    s3.put_object(Bucket=ARCHIVE_BUCKET, Key=victim, Body=gzip.compress(original) + gzip.compress(b"x"))
    # 4. A planted plain .json log (no digest lists it).
    planted = f"{folder}/{name.removesuffix('.json.gz')}_planted.json"
    s3.put_object(Bucket=ARCHIVE_BUCKET, Key=planted, Body=orjson.dumps(hidden))
    found.update(victim=victim, alias=alias, escape=escape, planted=planted)


def _verify_output(case: Path) -> dict[str, Any]:
    entries = [orjson.loads(line) for line in (case / "journal.jsonl").read_bytes().splitlines()]
    (output,) = [
        e["data"]["output"] for e in entries if e["kind"] == "step.done" and e["data"].get("type") == "verify"
    ]
    return dict(output)


def test_contain_still_contains_the_backdoor_and_names_every_plant(tmp_path: Path) -> None:
    found: dict[str, str] = {}
    scenario = Scenario(
        name="hidden-admin-role",
        summary=SCENARIO.summary,
        expected=SCENARIO.expected,
        attack=SCENARIO.attack,
        integrity=("key-refused", "log-tampered", "log-not-in-digest"),
        after_delivery=lambda world: plant(world, found),
    )
    out = tmp_path / "drill"
    result = run_scenario(scenario, out=out, echo=lambda _line: None)

    assert result.problems == [], result.problems
    assert result.contained
    assert set(SCENARIO.expected) <= set(result.detected)
    # contained, then reverted: the plants did not hide the backdoor role or its key from the revert
    assert result.residual == [], result.residual

    case = Path(result.report).parent
    problems = {(p["kind"], p["path"]) for p in _verify_output(case)["problems"]}
    uri = f"s3://{ARCHIVE_BUCKET}/"
    assert ("key-refused", uri + found["alias"]) in problems
    assert ("key-refused", uri + found["escape"]) in problems
    assert ("log-tampered", uri + found["victim"]) in problems
    assert ("log-not-in-digest", uri + found["planted"]) in problems
    report = (case / "report.md").read_text()
    assert "key-refused" in report and "log-not-in-digest" in report and "log-tampered" in report

    # The analysed file is the authentic log, and nothing was written beside or above the case.
    evidence = case / "evidence"
    analysed = gzip.decompress((evidence / found["victim"]).read_bytes())
    # (the victim was chosen as the log holding CreateRole; CreateAccessKey may fall in the next
    # delivery file, depending on the clock, so only CreateRole proves the authentic version is here)
    assert b'"CreateRole"' in analysed
    assert not (tmp_path / "sentinel").exists()
    outside = sorted(p for p in tmp_path.rglob("*") if not p.is_relative_to(out))
    assert outside == []
    manifest = orjson.loads((evidence / "manifest.json").read_bytes())
    refused = [g for g in manifest["gaps"] if g["reason"].startswith("key-refused")]
    assert {g["path"] for g in refused} == {uri + found["alias"], uri + found["escape"]}

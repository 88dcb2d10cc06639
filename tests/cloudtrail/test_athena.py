"""The Athena engine: generated SQL parses as Trino/Athena, and the flow against moto's Athena."""

from __future__ import annotations

import json
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import sqlglot
from sqlglot import exp

from irkit.cloudtrail.athena import (
    AthenaOptions,
    collect_athena,
    events_query,
    row_to_record,
    table_ddl,
    table_name,
)
from irkit.cloudtrail.layout import TrailLayout
from irkit.cloudtrail.reader import ReadStats, iter_events

LAYOUT = TrailLayout("org-trail", "logs", "o-abc123def4")
START = datetime(2026, 11, 24, 22, 0, tzinfo=UTC)
END = datetime(2026, 11, 25, 23, 50, tzinfo=UTC)
ROLE = "arn:aws:iam::111111111111:role/agent-infra-optimizer"


def query(**kw: Any) -> str:
    args: dict[str, Any] = {
        "database": "irkit",
        "table": table_name(LAYOUT),
        "principals": [ROLE, "AKIAEXAMPLEKEY000001"],
        "accounts": ["111111111111"],
        "regions": ["us-east-1"],
        "start": START,
        "end": END,
    }
    args.update(kw)
    return events_query(**args)


def test_events_query_parses_as_trino_and_is_bounded_by_partitions() -> None:
    tree = sqlglot.parse_one(query(), read="trino")
    assert isinstance(tree, exp.Select)
    where = tree.find(exp.Where)
    assert where is not None
    columns = {c.name for c in where.find_all(exp.Column)}
    assert {"account", "timestamp", "region", "eventtime"} <= columns
    days = {lit.this for lit in where.find_all(exp.Literal) if lit.this.startswith("2026/")}
    # the window spans two delivery days; the lag past 23:50 reaches into the 26th
    assert days == {"2026/11/24", "2026/11/25", "2026/11/26"}


def test_principal_names_cannot_break_out_of_the_query() -> None:
    tree = sqlglot.parse_one(query(principals=["arn:aws:iam::111111111111:user/o'brien"]), read="trino")
    assert "arn:aws:iam::111111111111:user/o'brien" in {lit.this for lit in tree.find_all(exp.Literal)}


def test_query_without_accounts_is_refused() -> None:
    with pytest.raises(ValueError, match="accounts"):
        query(accounts=[])


def test_table_ddl_parses_and_projects_the_org_layout() -> None:
    ddl = table_ddl(
        LAYOUT, database="irkit", table=table_name(LAYOUT), since=datetime(2020, 1, 1, tzinfo=UTC)
    )
    tree = sqlglot.parse_one(ddl, read="athena")  # Athena runs DDL as Hive
    assert isinstance(tree, exp.Create)
    props = {p.name: p.text("value") for p in tree.find_all(exp.Property) if isinstance(p.this, exp.Literal)}
    assert props["projection.timestamp.format"] == "yyyy/MM/dd"
    assert props["projection.timestamp.type"] == "date"
    assert props["storage.location.template"] == (
        "s3://org-trail/logs/AWSLogs/o-abc123def4/${account}/CloudTrail/${region}/${timestamp}"
    )


def test_table_name_is_stable_per_layout() -> None:
    assert table_name(LAYOUT) == table_name(TrailLayout("org-trail", "logs", "o-abc123def4"))
    assert table_name(LAYOUT) != table_name(TrailLayout("org-trail", "", None))


def _post_results(endpoint: str, results: list[dict[str, Any]]) -> None:
    body = json.dumps({"account_id": "123456789012", "region": "us-east-1", "results": results}).encode()
    url = f"{endpoint}/moto-api/static/athena/query-results"
    req = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 - loopback moto server only
    with urllib.request.urlopen(req, timeout=10):  # noqa: S310 - loopback moto server only
        pass


def _row(*values: str | None) -> dict[str, Any]:
    return {"Data": [{"VarCharValue": v} if v is not None else {} for v in values]}


def test_collect_athena_pages_rows_into_jsonl_with_query_in_manifest(
    aws_endpoint: str, boto: Any, tmp_path: Path
) -> None:
    names = ["eventid", "eventtime", "eventsource", "eventname", "principal_arn", "issuer_arn",
             "requestparameters", "readonly"]  # fmt: skip
    session = "arn:aws:sts::111111111111:assumed-role/agent-infra-optimizer/run-1"
    rows = [
        _row(*names),
        _row("e1", "2026-11-25T01:00:00Z", "iam.amazonaws.com", "CreateUser", session, ROLE,
             '{"userName":"x"}', "false"),
        _row("e2", "2026-11-25T01:05:00Z", "s3.amazonaws.com", "ListBuckets", session, ROLE, None, "true"),
    ]  # fmt: skip
    columns = [{"Name": n, "Type": "varchar"} for n in names]
    # two DDL statements (database, table) come first; each query execution takes one canned result
    _post_results(aws_endpoint, [{"rows": []}, {"rows": []}, {"rows": rows, "column_info": columns}])
    athena = boto("athena")
    result = collect_athena(
        athena, layout=LAYOUT, principals=[ROLE], accounts=["111111111111"], regions=[], start=START, end=END,
        dest=tmp_path, options=AthenaOptions(output_location="s3://athena-results/irkit/", poll_seconds=0),
    )  # fmt: skip
    assert result.files == 1 and result.verified is False
    lines = [orjson.loads(line) for line in result.paths[0].read_bytes().splitlines()]
    assert [r["eventName"] for r in lines] == ["CreateUser", "ListBuckets"]
    assert lines[0]["userIdentity"]["sessionContext"]["sessionIssuer"]["arn"] == ROLE
    assert lines[0]["requestParameters"] == {"userName": "x"}
    assert lines[1]["readOnly"] is True
    manifest = orjson.loads(result.manifest.read_bytes())
    events = [q for q in manifest["athena"]["queries"] if q["purpose"] == "events"]
    assert events[0]["query_id"] in result.paths[0].name
    assert events[0]["sql"].startswith("SELECT")
    assert manifest["objects"][0]["rows"] == 2
    executed = athena.get_query_execution(QueryExecutionId=events[0]["query_id"])["QueryExecution"]
    assert executed["Query"] == events[0]["sql"]
    stats = ReadStats()
    assert [e.event_name for e in iter_events([tmp_path], stats)] == ["CreateUser", "ListBuckets"]


def test_failed_athena_call_is_a_gap(tmp_path: Path) -> None:
    class Broken:
        def start_query_execution(self, **_: Any) -> Any:
            return {"QueryExecutionId": "q-1"}

        def get_query_execution(self, **_: Any) -> Any:
            return {"QueryExecution": {"Status": {"State": "FAILED", "StateChangeReason": "HIVE_BAD_DATA"}}}

    result = collect_athena(
        Broken(), layout=LAYOUT, principals=[ROLE], accounts=["111111111111"], regions=[], start=START,
        end=END - timedelta(hours=1), dest=tmp_path,
    )  # fmt: skip
    assert result.files == 0
    assert any(g.path == "athena:q-1" and "HIVE_BAD_DATA" in g.reason for g in result.gaps)


def test_row_to_record_keeps_unparseable_json_as_text() -> None:
    assert row_to_record({"requestparameters": "{oops", "eventname": "X"}) == {
        "requestParameters": "{oops",
        "eventName": "X",
    }

"""`collect --engine athena`: let Athena scan the archive when it is too big to download.

A CloudTrail table with partition projection (``projection.timestamp.*`` over ``yyyy/MM/dd``,
``storage.location.template`` following the trail layout, accounts injected by the query) is
created once and reused: its name carries a hash of the layout, so a table of that name always
has this definition and ``CREATE ... IF NOT EXISTS`` is a safe reuse. The query is bounded by
the projected partitions (accounts, days), the agent's principals and the window; its result is
paged into ``athena/<query-id>.jsonl`` in the evidence folder as CloudTrail-shaped records, and
the manifest records the query id and SQL.

Evidence from Athena is *not* digest-verified: Athena reads the same S3 objects but says nothing
about whether they were altered. Verify the window with ``collect --engine s3`` + ``verify``
when the file count allows.
"""

from __future__ import annotations

import contextlib
import hashlib
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from irkit.cloudtrail.collect import CollectResult
from irkit.cloudtrail.keys import KeyRefused, evidence_path
from irkit.cloudtrail.layout import DELIVERY_LAG, TrailLayout, days_between
from irkit.cloudtrail.manifest import MANIFEST_FORMAT, READ_ONLY, open_private, write_manifest
from irkit.detect.event import format_time
from irkit.gaps import Gap

# Regions a trail may write to; the projection needs the list (new regions: extend here).
REGIONS = (
    "af-south-1", "ap-east-1", "ap-northeast-1", "ap-northeast-2", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
    "ap-southeast-5", "ca-central-1", "ca-west-1", "eu-central-1", "eu-central-2", "eu-north-1",
    "eu-south-1", "eu-south-2", "eu-west-1", "eu-west-2", "eu-west-3", "il-central-1",
    "me-central-1", "me-south-1", "mx-central-1", "sa-east-1", "us-east-1", "us-east-2",
    "us-west-1", "us-west-2",
)  # fmt: skip

COLUMNS = """\
  eventversion STRING,
  useridentity STRUCT<
    type: STRING, principalid: STRING, arn: STRING, accountid: STRING, invokedby: STRING,
    accesskeyid: STRING, username: STRING,
    sessioncontext: STRUCT<
      attributes: STRUCT<mfaauthenticated: STRING, creationdate: STRING>,
      sessionissuer: STRUCT<
        type: STRING, principalid: STRING, arn: STRING, accountid: STRING, username: STRING>,
      sourceidentity: STRING>>,
  eventtime STRING,
  eventsource STRING,
  eventname STRING,
  awsregion STRING,
  sourceipaddress STRING,
  useragent STRING,
  errorcode STRING,
  errormessage STRING,
  requestparameters STRING,
  responseelements STRING,
  additionaleventdata STRING,
  requestid STRING,
  eventid STRING,
  readonly STRING,
  resources ARRAY<STRUCT<arn: STRING, accountid: STRING, type: STRING>>,
  eventtype STRING,
  apiversion STRING,
  recipientaccountid STRING,
  serviceeventdetails STRING,
  sharedeventid STRING,
  vpcendpointid STRING,
  eventcategory STRING"""

# result column -> (CloudTrail field path)
_FIELDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("eventid", "eventid", ("eventID",)),
    ("eventtime", "eventtime", ("eventTime",)),
    ("eventsource", "eventsource", ("eventSource",)),
    ("eventname", "eventname", ("eventName",)),
    ("awsregion", "awsregion", ("awsRegion",)),
    ("sourceipaddress", "sourceipaddress", ("sourceIPAddress",)),
    ("useragent", "useragent", ("userAgent",)),
    ("errorcode", "errorcode", ("errorCode",)),
    ("errormessage", "errormessage", ("errorMessage",)),
    ("useridentity.type", "identity_type", ("userIdentity", "type")),
    ("useridentity.arn", "principal_arn", ("userIdentity", "arn")),
    ("useridentity.accountid", "identity_account", ("userIdentity", "accountId")),
    ("useridentity.accesskeyid", "access_key_id", ("userIdentity", "accessKeyId")),
    ("useridentity.sessioncontext.sessionissuer.arn", "issuer_arn",
     ("userIdentity", "sessionContext", "sessionIssuer", "arn")),
    ("requestparameters", "requestparameters", ("requestParameters",)),
    ("responseelements", "responseelements", ("responseElements",)),
    ("readonly", "readonly", ("readOnly",)),
    ("recipientaccountid", "recipientaccountid", ("recipientAccountId",)),
    ("eventtype", "eventtype", ("eventType",)),
    ("requestid", "requestid", ("requestID",)),
)  # fmt: skip
_JSON_FIELDS = frozenset({"requestparameters", "responseelements"})


def _lit(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def table_name(layout: TrailLayout) -> str:
    """Stable per layout: same name ⇒ same definition, so an existing table is safely reused."""
    fingerprint = hashlib.sha256(
        f"{layout.bucket}\0{layout.prefix}\0{layout.organization_id}\0v1".encode()
    ).hexdigest()[:10]
    return f"irkit_cloudtrail_{fingerprint}"


def database_ddl(database: str) -> str:
    return f"CREATE DATABASE IF NOT EXISTS `{database}`"


def table_ddl(layout: TrailLayout, *, database: str, table: str, since: datetime) -> str:
    """Hive DDL (what Athena runs for CREATE TABLE) for a projected CloudTrail table."""
    root = "/".join(p for p in (layout.prefix.strip("/"), "AWSLogs", layout.organization_id) if p)
    base = f"s3://{layout.bucket}/{root}"
    props = {
        "projection.enabled": "true",
        "projection.account.type": "injected",
        "projection.region.type": "enum",
        "projection.region.values": ",".join(REGIONS),
        "projection.timestamp.type": "date",
        "projection.timestamp.format": "yyyy/MM/dd",
        "projection.timestamp.range": f"{since:%Y/%m/%d},NOW",
        "projection.timestamp.interval": "1",
        "projection.timestamp.interval.unit": "DAYS",
        "storage.location.template": f"{base}/${{account}}/CloudTrail/${{region}}/${{timestamp}}",
        "classification": "cloudtrail",
    }
    tblprops = ",\n  ".join(f"{_lit(k)}={_lit(v)}" for k, v in props.items())
    return (
        f"CREATE EXTERNAL TABLE IF NOT EXISTS `{database}`.`{table}` (\n{COLUMNS}\n)\n"
        "PARTITIONED BY (`account` STRING, `region` STRING, `timestamp` STRING)\n"
        "ROW FORMAT SERDE 'org.apache.hive.hcatalog.data.JsonSerDe'\n"
        "STORED AS INPUTFORMAT 'com.amazon.emr.cloudtrail.CloudTrailInputFormat'\n"
        "OUTPUTFORMAT 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat'\n"
        f"LOCATION {_lit(base + '/')}\n"
        f"TBLPROPERTIES (\n  {tblprops}\n)"
    )


def events_query(
    *,
    database: str,
    table: str,
    principals: Sequence[str],
    accounts: Sequence[str],
    regions: Sequence[str],
    start: datetime,
    end: datetime,
) -> str:
    """Trino SQL: the principals' events in [start, end], scanning only the projected partitions."""
    if not accounts:
        raise ValueError("an Athena query needs the accounts: the account partition is injected")
    select = ",\n  ".join(f"{expr} AS {alias}" for expr, alias, _ in _FIELDS)
    days = [f"{d:%Y/%m/%d}" for d in days_between(start, end + DELIVERY_LAG)]
    who: list[str] = []
    arns = sorted(set(principals))
    if arns:
        arn_list = ", ".join(_lit(a) for a in arns)
        who.append(f"useridentity.arn IN ({arn_list})")
        who.append(f"useridentity.sessioncontext.sessionissuer.arn IN ({arn_list})")
    keys = [p for p in arns if p.startswith(("AKIA", "ASIA"))]
    if keys:
        who.append(f"useridentity.accesskeyid IN ({', '.join(_lit(k) for k in keys)})")
    where = [
        f"account IN ({', '.join(_lit(a) for a in sorted(set(accounts)))})",
        f'"timestamp" IN ({", ".join(_lit(d) for d in days)})',
        f"eventtime >= {_lit(format_time(start))}",
        f"eventtime <= {_lit(format_time(end))}",
    ]
    if regions:
        where.append(f"region IN ({', '.join(_lit(r) for r in sorted(set(regions)))})")
    if who:
        where.append("(" + "\n    OR ".join(who) + ")")
    return (
        f'SELECT\n  {select}\nFROM "{database}"."{table}"\nWHERE '
        + "\n  AND ".join(where)
        + "\nORDER BY eventtime, eventid"
    )


def row_to_record(row: dict[str, str | None]) -> dict[str, Any]:
    """A result row back into a CloudTrail-shaped record, so the reader and rules see one format."""
    record: dict[str, Any] = {}
    for _, alias, path in _FIELDS:
        value: Any = row.get(alias)
        if value is None or value == "":
            continue
        if alias in _JSON_FIELDS:
            with contextlib.suppress(orjson.JSONDecodeError):  # else keep the text: a rule may read it
                value = orjson.loads(value)
        elif alias == "readonly":
            value = value.lower() == "true"
        node = record
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = value
    return record


@dataclass(frozen=True, slots=True)
class AthenaOptions:
    database: str = "irkit"
    workgroup: str = "primary"
    output_location: str | None = None
    """``s3://…/`` for query results; None when the workgroup enforces its own."""
    since: datetime = datetime(2020, 1, 1, tzinfo=UTC)
    """First day of the projected timestamp range."""
    poll_seconds: float = 1.0
    timeout_seconds: float = 900.0


class AthenaError(Exception):
    def __init__(self, query_id: str, state: str, reason: str) -> None:
        super().__init__(f"Athena query {query_id} {state}: {reason}")
        self.query_id = query_id


class _Runner:
    def __init__(self, athena: Any, options: AthenaOptions, sleep: Callable[[float], None]) -> None:
        self.athena = athena
        self.options = options
        self.sleep = sleep

    def run(self, sql: str) -> tuple[str, dict[str, Any]]:
        kwargs: dict[str, Any] = {"QueryString": sql, "WorkGroup": self.options.workgroup}
        if self.options.output_location:
            kwargs["ResultConfiguration"] = {"OutputLocation": self.options.output_location}
        query_id = str(self.athena.start_query_execution(**kwargs)["QueryExecutionId"])
        deadline = time.monotonic() + self.options.timeout_seconds
        while True:
            execution = self.athena.get_query_execution(QueryExecutionId=query_id)["QueryExecution"]
            status = execution.get("Status", {})
            state = status.get("State", "")
            if state == "SUCCEEDED":
                return query_id, execution
            if state in {"FAILED", "CANCELLED"}:
                raise AthenaError(query_id, state.lower(), str(status.get("StateChangeReason", "")))
            if time.monotonic() > deadline:
                raise AthenaError(
                    query_id, "timed out", f"still {state} after {self.options.timeout_seconds}s"
                )
            self.sleep(self.options.poll_seconds)

    def rows(self, query_id: str) -> Iterator[dict[str, str | None]]:
        kwargs: dict[str, Any] = {"QueryExecutionId": query_id, "MaxResults": 1000}
        names: list[str] | None = None
        first = True
        while True:
            page = self.athena.get_query_results(**kwargs)
            result = page.get("ResultSet", {})
            if names is None:
                names = [c["Name"] for c in result.get("ResultSetMetadata", {}).get("ColumnInfo", [])]
            for row in result.get("Rows", []):
                values = [d.get("VarCharValue") for d in row.get("Data", [])]
                if first:
                    first = False
                    if values == names:
                        continue  # Athena repeats the column names as the first row of a SELECT
                yield dict(zip(names, values, strict=False))
            token = page.get("NextToken")
            if not token:
                return
            kwargs["NextToken"] = token


def collect_athena(
    athena: Any,
    *,
    layout: TrailLayout,
    principals: Sequence[str],
    accounts: Sequence[str],
    regions: Sequence[str],
    start: datetime,
    end: datetime,
    dest: Path,
    options: AthenaOptions | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> CollectResult:
    """Create or reuse the projected table, query the window, page the rows into JSONL."""
    options = options or AthenaOptions()
    runner = _Runner(athena, options, sleep)
    table = table_name(layout)
    ddl = table_ddl(layout, database=options.database, table=table, since=options.since)
    sql = events_query(
        database=options.database, table=table, principals=principals, accounts=accounts, regions=regions,
        start=start, end=end,
    )  # fmt: skip
    dest.mkdir(parents=True, exist_ok=True)
    gaps: list[Gap] = [
        Gap("athena", "evidence from an Athena query is not digest-verified; verify with --engine s3")
    ]
    queries: list[dict[str, Any]] = []
    objects: list[dict[str, Any]] = []
    paths: list[Path] = []
    total = 0
    try:
        for statement in (database_ddl(options.database), ddl):
            qid, _ = runner.run(statement)
            queries.append({"purpose": "ddl", "query_id": qid, "sql": statement})
        qid, execution = runner.run(sql)
        scanned = execution.get("Statistics", {}).get("DataScannedInBytes")
        queries.append({"purpose": "events", "query_id": qid, "sql": sql, "data_scanned_bytes": scanned})
        path = evidence_path(dest, f"athena/{qid}.jsonl")  # the id is the API's answer: data, not a path
        path.parent.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256()
        count = 0
        tmp = path.with_name(path.name + ".part")
        with open_private(tmp) as out:
            for row in runner.rows(qid):
                line = orjson.dumps(row_to_record(row)) + b"\n"
                out.write(line)
                digest.update(line)
                total += len(line)
                count += 1
        tmp.chmod(READ_ONLY)
        tmp.replace(path)
        paths.append(path)
        objects.append(
            {
                "key": path.relative_to(dest).as_posix(),
                "query_id": qid,
                "rows": count,
                "size": total,
                "sha256": digest.hexdigest(),
                "fetched_at": format_time(datetime.now(UTC)),
                "verified": False,
            }
        )
    except AthenaError as exc:
        gaps.append(Gap(f"athena:{exc.query_id}", str(exc)))
    except (ClientError, BotoCoreError) as exc:
        gaps.append(Gap(f"athena:{options.database}.{table}", f"Athena call failed: {exc}"))
    except KeyRefused as exc:
        gaps.append(Gap(f"athena:{options.database}.{table}", str(exc)))
    doc = {
        "format": MANIFEST_FORMAT,
        "engine": "athena",
        "bucket": layout.bucket,
        "prefix": layout.prefix,
        "organization_id": layout.organization_id,
        "accounts": list(accounts),
        "regions": list(regions),
        "window": {"start": format_time(start), "end": format_time(end)},
        "athena": {"database": options.database, "table": table, "workgroup": options.workgroup,
                   "queries": queries},
        "objects": objects,
        "gaps": [g.to_json() for g in gaps],
    }  # fmt: skip
    manifest = write_manifest(dest, doc)
    return CollectResult(
        files=len(paths), bytes=total, skipped=0, manifest=manifest, gaps=tuple(gaps), paths=tuple(paths),
        verified=False,
    )  # fmt: skip

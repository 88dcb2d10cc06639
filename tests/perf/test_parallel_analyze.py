"""Two processes for the whole analysis (issue 14, item 2): a second irkit process analyses the later
share of the files and its state is merged; the result is the one-process result, byte for byte —
over a mixed archive (the labelled set's incidents, benign workloads, bursts, and attribution that
crosses files and regions: a user and key created in one file, the key used from another region's
file in the other share). A worker that fails costs time, never data."""

from __future__ import annotations

import gzip
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
import typer
from typer.testing import CliRunner

from irkit.cloudtrail import analyze as analyze_module
from irkit.cloudtrail import worker as worker_module
from irkit.cloudtrail.analyze import analyze_paths
from irkit.cloudtrail.reader import ReadStats, log_files
from irkit.commands import analyze as analyze_command
from irkit.detect.analyzer import Analysis
from irkit.detect.baseline import Baseline
from irkit.detect.labelled import generate

T0 = datetime(2026, 11, 20, 9, tzinfo=UTC)
ATTACKER = "203.0.113.50"


def _call(name: str, source: str, minute: float, *, region: str = "us-east-1", **extra: Any) -> dict[str, Any]:
    record: dict[str, Any] = {
        "eventVersion": "1.09",
        "eventTime": (T0 + timedelta(minutes=minute)).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventName": name,
        "eventSource": source,
        "awsRegion": region,
        "sourceIPAddress": "10.1.2.3",
        "userAgent": "Boto3/1.34.0",
        "eventID": f"x-{name}-{minute}-{region}",
        "eventType": "AwsApiCall",
        "recipientAccountId": "111111111111",
        "userIdentity": {
            "type": "AssumedRole",
            "arn": "arn:aws:sts::111111111111:assumed-role/agent-ops/s1",
            "accountId": "111111111111",
            "accessKeyId": "ASIAOPSSESSION0001",
            "sessionContext": {"sessionIssuer": {"arn": "arn:aws:iam::111111111111:role/agent-ops"}},
        },
    }
    record.update(extra)
    return record


def _crossing() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """A backdoor user made (IAM: us-east-1, in the first share's files), and its key used from a
    new address in another region (us-west-2, whose folder sorts after: the later share's)."""
    made = [
        _call("CreateUser", "iam.amazonaws.com", 0, requestParameters={"userName": "svc-backup"},
              responseElements={"user": {"arn": "arn:aws:iam::111111111111:user/svc-backup"}}),
        _call("AttachUserPolicy", "iam.amazonaws.com", 1,
              requestParameters={"userName": "svc-backup", "policyArn": "arn:aws:iam::aws:policy/AdministratorAccess"}),
        _call("CreateAccessKey", "iam.amazonaws.com", 2, requestParameters={"userName": "svc-backup"},
              responseElements={"accessKey": {"accessKeyId": "AKIABACKDOOR0000001", "userName": "svc-backup"}}),
    ]  # fmt: skip
    used = [
        _call("ListBuckets", "s3.amazonaws.com", 30 + i, region="us-west-2", sourceIPAddress=ATTACKER,
              userIdentity={"type": "IAMUser", "arn": "arn:aws:iam::111111111111:user/svc-backup",
                            "accountId": "111111111111", "accessKeyId": "AKIABACKDOOR0000001"})
        for i in range(3)
    ]  # fmt: skip
    used += [_call("RunInstances", "ec2.amazonaws.com", 40 + i / 10, region="us-west-2",
                   requestParameters={"instanceType": "p4d.24xlarge"},
                   responseElements={"instancesSet": {"items": [{"instanceId": f"i-0burst{i:04d}"}]}})
             for i in range(12)]  # fmt: skip
    return made, used


def _archive(root: Path) -> int:
    """The labelled set and the crossing chain in 24 gzip files, region folders as an org trail has."""
    data = generate(benign=6_000, seed=11, variants=2, workloads=1_500)
    records = list(data.records)
    made, used = _crossing()
    per = len(records) // 22 + 1
    chunks = [records[i : i + per] for i in range(0, len(records), per)]
    chunks[0] = made + chunks[0]
    chunks += [used, used[:2]]  # the key's use, twice
    for i, chunk in enumerate(chunks):
        region = "us-west-2" if i >= len(chunks) - 2 else "us-east-1"
        path = root / "AWSLogs" / "111111111111" / "CloudTrail" / region / f"{i:03d}.json.gz"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(gzip.compress(orjson.dumps({"Records": chunk})))
    # a broken file inside the later share: its gap must come back from the worker
    (root / "AWSLogs" / "111111111111" / "CloudTrail" / "us-west-2" / "zzz.json.gz").write_bytes(b"not gzip")
    return sum(len(c) for c in chunks)


def _dump(analysis: Analysis, stats: ReadStats) -> bytes:
    return orjson.dumps(
        {
            **analysis.to_json(),
            "parked": [analysis.parked_unresolved, analysis.parked_dropped],
            "errors": analysis.errors,
            "stats": [stats.files, stats.events, [g.to_json() for g in stats.gaps]],
        }
    )


@pytest.fixture
def archive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, int]:
    monkeypatch.setattr(worker_module, "PARALLEL_MIN_BYTES", 0)  # a small archive, split all the same
    monkeypatch.setattr(worker_module, "PARALLEL_MIN_FILES", 2)
    monkeypatch.setattr(analyze_module, "MIN_HANDED_BYTES", 1)  # any run of files is worth handing
    root = tmp_path / "archive"
    return root, _archive(root)


def _handed(monkeypatch: pytest.MonkeyPatch, waits: int) -> list[list[tuple[int, int]]]:
    """Make this process wait, before each of its first files, until the worker asks (``waits``
    times): the hand-outs are then the same on every run, however fast either process is.
    Returns, per analysis, the runs handed out."""
    runs: list[list[tuple[int, int]]] = []
    asked, result = analyze_module._Worker.asked, analyze_module._Worker.result

    def waiting(self: Any, *, wait: bool) -> bool:
        return asked(self, wait=wait or len(self.handed) < waits)

    def recorded(self: Any) -> Any:
        runs.append(list(self.handed))
        return result(self)

    monkeypatch.setattr(analyze_module._Worker, "asked", waiting)
    monkeypatch.setattr(analyze_module._Worker, "result", recorded)
    return runs


def test_two_processes_give_the_one_process_result(archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    root, events = archive
    one = analyze_paths([root], processes=1)
    runs = _handed(monkeypatch, waits=3)
    two = analyze_paths([root], processes=2)
    files = [p.name for p in log_files([root], ReadStats())]
    (handed,) = runs
    # three runs at least (more when the worker asks again in time), each the later part of what
    # was left, each ending where the one before began
    assert len(handed) >= 3 and handed[0][1] == len(files) == 25
    assert all(later[0] == earlier[1] for earlier, later in zip(handed[1:], handed, strict=False))
    assert 1 <= handed[-1][0] < handed[0][0] < len(files) - 2  # the key made here, used in the worker's files
    assert files[handed[0][0] :][-3:] == ["022.json.gz", "023.json.gz", "zzz.json.gz"]
    assert one[1].events == events and one[1].gaps  # the broken file is named (by the worker)
    assert _dump(*two) == _dump(*one)
    crossing = {f.rule_id for f in one[0].findings if "AKIABACKDOOR0000001" in f.detail}
    assert "iam_user_backdoor_sequence" in crossing  # the key made in one share, used in the other
    assert "ec2_instance_burst" in {f.rule_id for f in one[0].findings}


def test_however_the_files_are_handed_out_the_result_is_the_same(
    archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, _ = archive
    one = _dump(*analyze_paths([root], processes=1))
    runs = _handed(monkeypatch, waits=1)
    for handed in (0.1, 0.5, 0.9):
        monkeypatch.setattr(analyze_module, "HANDED", handed)
        assert _dump(*analyze_paths([root], processes=2)) == one
    assert len({runs[i][0] for i in range(3)}) == 3  # three different first cuts


def test_handed_cut_gives_the_worker_the_later_part_of_what_is_left(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analyze_module, "MIN_HANDED_BYTES", 100)
    sizes = [100] * 10
    below = [sum(sizes[:i]) for i in range(len(sizes) + 1)]
    cut = analyze_module.handed_cut
    assert cut(below, 0, 10) == 6  # 40 % of 1,000 bytes: the last four files
    assert cut(below, 5, 10) == 8  # 40 % of 500: two files
    assert cut(below, 8, 10) is None  # 80 bytes: below the least worth handing
    assert cut(below, 9, 10) is None  # this process keeps the file it is at
    lumpy = [0, 10, 20, 5_000]  # one big file at the end: handed all the same, not left behind
    assert cut(lumpy, 0, 3) == 2
    for read in range(10):
        for end in range(read + 1, 11):
            at = cut(below, read, end)
            assert at is None or (read < at < end and below[end] - below[at] <= 0.4 * (below[end] - below[read]))


_DIES_AFTER_ITS_FIRST_RUN = (
    "import sys, os; sys.path.insert(0, sys.argv[1]); import irkit.cloudtrail.analyze as a; "
    "runs = []; real = a._feed\n"
    "def feed(*args):\n"
    "    runs.append(1)\n"
    "    if len(runs) > 1: os._exit(5)\n"
    "    real(*args)\n"
    "a._feed = feed; sys.exit(a.worker_main(int(sys.argv[2]), int(sys.argv[3])))"
)
_WRITES_A_BAD_SECOND_RUN = (
    "import sys; sys.path.insert(0, sys.argv[1]); import irkit.cloudtrail.analyze as a; "
    "runs = []; real = a.share_parts\n"
    "def parts(share):\n"
    "    runs.append(1)\n"
    "    yield from real(share) if len(runs) == 1 else iter([b'garbage'])\n"
    "a.share_parts = parts; sys.exit(a.worker_main(int(sys.argv[2]), int(sys.argv[3])))"
)


@pytest.mark.parametrize(
    "worker",
    ["import sys; sys.exit(3)", "import sys; sys.stdout.write('garbage'); sys.exit(0)",
     "import sys; sys.stderr.write('want 0'); sys.exit(0)", _DIES_AFTER_ITS_FIRST_RUN, _WRITES_A_BAD_SECOND_RUN],
    ids=["exits", "writes-garbage", "never-asks", "dies-mid-way", "bad-second-run"],
)  # fmt: skip
@pytest.mark.parametrize("early", [False, True], ids=["started-by-the-pass", "started-ahead"])
def test_a_failed_worker_costs_time_not_data(
    archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch, worker: str, early: bool
) -> None:
    root, _ = archive
    one = analyze_paths([root], processes=1)
    runs = _handed(monkeypatch, waits=2)
    monkeypatch.setattr(worker_module, "_WORKER", worker)
    started = worker_module.spawn() if early else None
    assert _dump(*analyze_paths([root], processes=2, started=started)) == _dump(*one)
    if started is not None:
        assert started.proc.poll() is not None  # no process is left behind
    if worker in (_DIES_AFTER_ITS_FIRST_RUN, _WRITES_A_BAD_SECOND_RUN):
        assert len(runs[0]) >= 1  # it was handed work, and failed on it


def test_a_filtered_analysis_runs_in_one_process(archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    root, _ = archive
    files = log_files([root], ReadStats())
    agent = ["arn:aws:iam::111111111111:role/agent-ops"]
    sizes = analyze_module._bytes_below
    assert sizes(files, analyze_module.Analyzer(principals=agent), None, 2) is None
    assert sizes(files, analyze_module.Analyzer(), None, 1) is None
    monkeypatch.setenv(worker_module.ENV_PROCESSES, "1")
    assert sizes(files, analyze_module.Analyzer(), None, None) is None
    monkeypatch.setenv(worker_module.ENV_PROCESSES, "2")
    on_disk = [p.stat().st_size for p in files]
    assert sizes(files, analyze_module.Analyzer(), None, None) == [sum(on_disk[:i]) for i in range(len(files) + 1)]


def test_a_worker_started_ahead_is_used_or_killed(archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch) -> None:
    """``irkit analyze`` starts the worker before the pass lists its files: a pass that shares
    its work uses it (same result as one process); one that does not kills it."""
    root, _ = archive
    one = _dump(*analyze_paths([root], processes=1))
    started = worker_module.prestart(root)
    assert started is not None
    runs = _handed(monkeypatch, waits=2)
    assert _dump(*analyze_paths([root], started=started)) == one
    assert started.sent and len(runs[0]) >= 2 and started.proc.returncode == 0
    agent = ["arn:aws:iam::111111111111:role/agent-ops"]
    alone = _dump(*analyze_paths([root], principals=agent, processes=1))
    for unneeded, expected in (({"principals": agent}, alone), ({"processes": 1}, one)):
        started = worker_module.prestart(root)
        assert started is not None
        assert _dump(*analyze_paths([root], **unneeded, started=started)) == expected
        assert not started.sent and started.proc.returncode is not None  # killed, and waited for
        started.abandon()  # again: nothing happens


def test_a_worker_is_started_ahead_only_for_a_big_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(worker_module, "PARALLEL_MIN_FILES", 3)
    monkeypatch.setattr(worker_module, "PARALLEL_MIN_BYTES", 300)
    folder = tmp_path / "AWSLogs" / "111111111111" / "CloudTrail"
    for region, size in (("us-east-1", 100), ("us-west-2", 150)):
        (folder / region).mkdir(parents=True)
        (folder / region / "a.json.gz").write_bytes(b"x" * size)
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "elsewhere" / "big.json.gz").write_bytes(b"x" * 1000)
    (folder / "link").symlink_to(tmp_path / "elsewhere")  # not followed
    assert not worker_module._looks_big(tmp_path / "AWSLogs")  # two files, 250 bytes
    assert not worker_module._looks_big(folder / "us-east-1" / "a.json.gz")  # a file
    assert not worker_module._looks_big(tmp_path / "missing")
    (folder / "us-west-2" / "b.json.gz").write_bytes(b"x" * 49)
    assert not worker_module._looks_big(tmp_path / "AWSLogs")  # three files, 299 bytes
    (folder / "us-west-2" / "b.json.gz").write_bytes(b"x" * 50)
    assert worker_module._looks_big(tmp_path / "AWSLogs")
    assert worker_module.prestart(tmp_path / "AWSLogs" / "111111111111" / "CloudTrail" / "us-east-1") is None
    monkeypatch.setenv(worker_module.ENV_PROCESSES, "1")
    assert worker_module.prestart(tmp_path / "AWSLogs") is None
    monkeypatch.setenv(worker_module.ENV_PROCESSES, "2")
    started = worker_module.prestart(tmp_path / "AWSLogs")
    assert started is not None
    started.abandon()
    assert started.proc.returncode is not None


def test_irkit_analyze_starts_the_worker_ahead(
    archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The command starts the worker before its heavy imports, and its JSON is the one-process JSON."""
    root, _ = archive
    app = typer.Typer()
    analyze_command.register(app)
    started: list[worker_module.Spawned | None] = []
    real = worker_module.prestart

    def prestart(path: Path) -> worker_module.Spawned | None:
        started.append(real(path))
        return started[-1]

    monkeypatch.setattr(worker_module, "prestart", prestart)
    monkeypatch.setenv(worker_module.ENV_PROCESSES, "1")
    one = CliRunner().invoke(app, [str(root), "--json"])
    monkeypatch.setenv(worker_module.ENV_PROCESSES, "2")
    _handed(monkeypatch, waits=2)
    two = CliRunner().invoke(app, [str(root), "--json"])
    assert one.exit_code == two.exit_code == 3  # the broken file is a gap
    assert started[0] is None and started[1] is not None and started[1].sent
    assert orjson.loads(two.stdout) == orjson.loads(one.stdout)
    assert "AKIABACKDOOR0000001" in one.stdout
    filtered = CliRunner().invoke(app, [str(root), "--json", "--principal", "arn:aws:iam::111111111111:role/agent-ops"])
    assert filtered.exit_code == 3 and len(started) == 2  # a filtered pass starts none
    agents = tmp_path / "baseline.json"
    Baseline(agent="ops", principals=("arn:aws:iam::111111111111:role/agent-ops",), events=1).save(agents)
    assert CliRunner().invoke(app, [str(root), "--json", "--baseline", str(agents)]).exit_code == 3
    assert len(started) == 2  # nor does one with an agent's baseline (it analyses the agent's principals)


def test_two_processes_with_a_baseline_give_the_one_process_result(
    archive: tuple[Path, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A baseline learned for every principal (one learned for an agent filters: one process) goes
    to the worker in its request, pickled once the files are listed, also when the worker was
    started ahead: its deviations, merged, are the one-process deviations. (Learned from the whole
    archive less a few values, so that no principal meets more new values than the monitor names:
    at that bound which values are named may differ, as ``BaselineMonitor.merge`` says.)"""
    import dataclasses

    from irkit.cloudtrail.reader import iter_events

    root, _ = archive
    whole = Baseline.learn(iter_events([root], ReadStats()), agent="everyone")
    forget = {"apis": 4, "networks": 4, "regions": 1, "user_agents": 2}
    learned = dataclasses.replace(
        whole, **{kind: dict(list(getattr(whole, kind).items())[n:]) for kind, n in forget.items()}
    )
    assert analyze_module.Analyzer(baseline=learned).mergeable
    one = _dump(*analyze_paths([root], baseline=learned, processes=1))
    assert '"baseline_' in one.decode()  # the baseline has something to say
    runs = _handed(monkeypatch, waits=2)
    assert _dump(*analyze_paths([root], baseline=learned, processes=2)) == one
    started = worker_module.prestart(root)
    assert _dump(*analyze_paths([root], baseline=learned, started=started)) == one
    assert len(runs) == 2 and all(len(handed) >= 2 for handed in runs)

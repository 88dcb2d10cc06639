"""Quiet on the routine: secret reads, model calls and instance credentials raise only when unusual."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from irkit.detect.analyzer import Analyzer
from irkit.detect.baseline import Baseline
from irkit.detect.event import Event, format_time
from irkit.detect.records import AGENT_IP, AGENT_ROLE, ATTACKER_IP, record, role_identity
from irkit.detect.rule import SEVERITIES, Finding
from irkit.detect.rules import get_rule

_T0 = datetime(2026, 11, 25, 8, 0, tzinfo=UTC)
LAMBDA_ROLE = "arn:aws:iam::111111111111:role/orders-api-lambda"


def _at(minutes: float) -> str:
    return format_time(_T0 + timedelta(minutes=minutes))


def _secret(minutes: float, name: str, n: int, *, ip: str = AGENT_IP, identity: Any = None) -> dict[str, Any]:
    return record(
        "GetSecretValue",
        "secretsmanager.amazonaws.com",
        time=_at(minutes),
        request={"secretId": name},
        read_only=True,
        ip=ip,
        identity=identity,
        event_id=f"s-{n:06d}",
        request_id="r",
    )


def _param(minutes: float, name: str, n: int) -> dict[str, Any]:
    return record(
        "GetParameter",
        "ssm.amazonaws.com",
        time=_at(minutes),
        request={"name": name, "withDecryption": True},
        read_only=True,
        event_id=f"p-{n:06d}",
        request_id="r",
    )


def _work(minutes: float, n: int, *, ip: str = AGENT_IP, identity: Any = None) -> dict[str, Any]:
    return record(
        "DescribeInstances",
        "ec2.amazonaws.com",
        time=_at(minutes),
        request={},
        read_only=True,
        ip=ip,
        identity=identity,
        event_id=f"w-{n:06d}",
        request_id="r",
    )


def _routine_day(start: float = 0) -> list[dict[str, Any]]:
    """A day of the agent's work: its own two secrets and one parameter read at every run."""
    recs: list[dict[str, Any]] = []
    for n in range(300):
        minute = start + n * 4
        recs.append(_work(minute, n))
        if n % 3 == 0:
            recs.append(_secret(minute + 1, "agent/github-token", n))
            recs.append(_param(minute + 2, "/agent/db-password", n))
        if n % 5 == 0:
            recs.append(_secret(minute + 3, "agent/slack-webhook", n + 100_000))
    return recs


def _run(recs: list[dict[str, Any]], *, baseline: Baseline | None = None, principals: Any = None) -> list[Finding]:
    analyzer = Analyzer(baseline=baseline, principals=principals)
    for rec in recs:
        analyzer.feed(Event.from_record(rec))
    return analyzer.finish().findings


def _above_low(findings: list[Finding]) -> list[tuple[str, str]]:
    return [(f.rule_id, f.severity) for f in findings if SEVERITIES.index(f.severity) > 0]


def test_routine_secret_and_parameter_reads_raise_nothing_above_low() -> None:
    findings = _run(_routine_day())
    assert _above_low(findings) == []
    # ... but every read is recorded as an access
    assert {f.rule_id for f in findings} == {"secretsmanager_secret_read", "ssm_parameter_decrypted"}


def test_routine_reads_of_secrets_the_baseline_knows_raise_nothing_above_low() -> None:
    history = [Event.from_record(r) for r in _routine_day()]
    base = Baseline.learn(history, agent="agent", principals=[AGENT_ROLE])
    assert "secretsmanager:agent/github-token" in base.secrets and "ssm:/agent/db-password" in base.secrets
    base = Baseline.from_json(base.to_json())  # what `irkit baseline` saves is what analyze reads
    assert "secretsmanager:agent/slack-webhook" in base.secrets
    assert _above_low(_run(_routine_day(start=2 * 24 * 60), baseline=base)) == []


def test_a_secret_the_baseline_never_read_is_medium() -> None:
    base = Baseline.learn([Event.from_record(r) for r in _routine_day()], agent="agent", principals=[AGENT_ROLE])
    recs = [*_routine_day(start=2 * 24 * 60), _secret(2 * 24 * 60 + 30, "prod/payments/stripe", 999_999)]
    unusual = [f for f in _run(recs, baseline=base) if f.rule_id == "secret_read_unusual"]
    assert [(f.severity, f.event_ids) for f in unusual] == [("medium", ("s-999999",))]
    assert "prod/payments/stripe" in unusual[0].detail


def test_a_read_from_a_network_the_principal_almost_never_uses_is_raised() -> None:
    recs = [*_routine_day(), _secret(500, "agent/github-token", 999_998, ip=ATTACKER_IP)]
    [unusual] = [f for f in _run(recs) if f.rule_id == "secret_read_unusual"]
    assert unusual.severity == "medium" and unusual.event_ids == ("s-999998",)
    assert "198.51.100.0/24" in unusual.detail


def test_a_burst_of_first_time_secret_reads_is_high() -> None:
    recs = [*_routine_day(), *(_secret(700 + m / 4, f"prod/svc-{m}/db", 900_000 + m) for m in range(8))]
    [burst] = [f for f in _run(recs) if f.rule_id == "secret_read_unusual"]
    assert burst.severity == "high" and len(burst.event_ids) == 8
    assert burst.evidence["secrets"][0].startswith("secretsmanager:prod/svc-")


def test_a_function_calling_from_many_networks_has_no_rare_network() -> None:
    """A Lambda function outside a VPC calls from a different AWS address at every cold start."""
    identity = role_identity(LAMBDA_ROLE, session="orders-api", key="ASIAQLAMBDA000000001")
    recs = []
    for n in range(600):
        ip = f"3.{80 + n % 16}.{n % 200}.{n % 250 + 1}"
        recs.append(_work(n, n, ip=ip, identity=identity))
        if n % 4 == 0:
            recs.append(_secret(n + 0.5, "prod/orders/db", n, ip=ip, identity=identity))
    assert _above_low(_run(recs)) == []


def test_bedrock_invocations_by_a_principal_whose_baseline_never_invoked_a_model_are_high() -> None:
    base = Baseline.learn([Event.from_record(r) for r in _routine_day()], agent="agent", principals=[AGENT_ROLE])
    invoke = record(
        "Converse",
        "bedrock.amazonaws.com",
        time=_at(3000),
        request={"modelId": "anthropic.claude-3-opus-20240229-v1:0"},
        read_only=True,
        event_id="b-1",
        request_id="r",
    )
    [finding] = [f for f in _run([invoke], baseline=base) if f.rule_id == "bedrock_invocation_unusual"]
    assert finding.severity == "high" and "never invoked" in finding.detail
    assert finding.evidence["models"] == {"anthropic.claude-3-opus-20240229-v1:0": 1}


def test_an_agents_own_model_calls_from_its_own_hosts_raise_nothing() -> None:
    recs = _routine_day()
    recs += [
        record(
            "InvokeModel",
            "bedrock.amazonaws.com",
            time=_at(n * 10),
            request={"modelId": "anthropic.claude-3-5-sonnet-20240620-v1:0"},
            read_only=True,
            event_id=f"b-{n}",
            request_id="r",
        )
        for n in range(100)
    ]
    base = Baseline.learn([Event.from_record(r) for r in recs], agent="agent", principals=[AGENT_ROLE])
    assert _above_low(_run(recs)) == []
    assert _above_low(_run(recs, baseline=base)) == []


def test_any_prefix_length_zero_block_opens_the_same_finding_and_admin_ports_are_critical() -> None:
    rule = get_rule("ec2_security_group_open_to_internet")

    def sg(cidr: str, port: int, n: int) -> dict[str, Any]:
        perm = {"ipProtocol": "tcp", "fromPort": port, "toPort": port, "ipRanges": {"items": [{"cidrIp": cidr}]}}
        return record(
            "AuthorizeSecurityGroupIngress",
            "ec2.amazonaws.com",
            request={"groupId": f"sg-{n}", "ipPermissions": {"items": [perm]}},
            event_id=f"sg-{n}",
            request_id="r",
        )

    findings = {
        f.event_ids[0]: f
        for f in _run(
            [
                sg("0.0.0.0/0", 8443, 1),
                sg("208.236.235.254/0", 8443, 2),
                sg("208.236.235.254/0", 22, 3),
                sg("208.236.235.254/1", 22, 4),
            ]
        )
    }
    assert {f.rule_id for f in findings.values()} == {rule.id}
    assert findings["sg-1"].severity == findings["sg-2"].severity == "high"
    assert findings["sg-3"].severity == "critical" and "22 SSH" in findings["sg-3"].detail
    assert "sg-4" not in findings  # a /1 is half the address space: this rule is about the whole of it


def test_a_failed_admin_port_opening_is_an_attempt_one_step_lower() -> None:
    perm = {"ipProtocol": "tcp", "fromPort": 3389, "toPort": 3389, "ipRanges": {"items": [{"cidrIp": "0.0.0.0/0"}]}}
    rec = record(
        "AuthorizeSecurityGroupIngress",
        "ec2.amazonaws.com",
        request={"groupId": "sg-1", "ipPermissions": {"items": [perm]}},
        error="UnauthorizedOperation",
    )
    [finding] = _run([rec])
    assert finding.severity == "high" and finding.title.startswith("Attempted: ")

"""contain --json carries the findings (as analyze --json shapes them); a dry run is never contained."""

from __future__ import annotations

import json

import pytest

from irkit.cli import main
from tests.trust.conftest import Incident

ANALYZE_KEYS = {"rule_id", "severity", "title", "event_ids", "principal", "mitre"}


def test_contain_json_has_the_findings_and_a_dry_run_is_not_contained(
    hidden_admin_role: Incident, capsys: pytest.CaptureFixture[str]
) -> None:
    incident = hidden_admin_role
    args = ["contain", "infra-optimizer", "-c", str(incident.config), "--hours", "4", "--out", str(incident.out)]
    # The drill's responder credentials are static; moto takes the environment's just as well.
    code = main([*args, "--dry-run", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code in (0, 3)
    assert doc["dry_run"] is True and doc["containment_complete"] is False
    rules = {f["rule_id"] for f in doc["findings"]}
    assert {"iam_role_backdoor_sequence", "iam_access_key_created"} <= rules
    assert all(set(f) >= ANALYZE_KEYS for f in doc["findings"])
    assert doc["events"] > 0 and doc["analysed"] is True

    code = main([*args, "--yes", "--json"])
    doc = json.loads(capsys.readouterr().out)
    assert code in (0, 3), doc
    assert doc["dry_run"] is False and doc["containment_complete"] is True
    assert "iam_role_backdoor_sequence" in {f["rule_id"] for f in doc["findings"]}

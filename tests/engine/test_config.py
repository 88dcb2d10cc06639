from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from irkit.cli import app, main
from irkit.config import EXAMPLE_CONFIG, load_config, parse_config
from irkit.errors import ConfigError, ExitCode

DESIGN_EXAMPLE = """\
aws:
  region: us-east-1
  endpoint_url: http://127.0.0.1:5000
  profile: responder
log_archive:
  bucket: org-cloudtrail-archive
  prefix: ""
  organization_id: o-abc123
  role_arn: arn:aws:iam::222222222222:role/irkit-log-reader
  accounts: ["111111111111"]
  regions: ["us-east-1", "us-west-2"]
  public_keys: ["keys/cloudtrail-2026.pem"]
agents:
  infra-optimizer:
    account: "111111111111"
    principals:
      - arn:aws:iam::111111111111:role/agent-infra-optimizer
      - arn:aws:iam::111111111111:user/agent-infra-bot
    git:
      repo: ../infra-live
      authors: ["agent-infra-optimizer@example.com"]
    terraform:
      dir: ../infra-live/prod
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "irkit.yaml"
    path.write_text(text)
    return path


def test_design_example_loads_with_every_key(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, DESIGN_EXAMPLE))
    agent = settings.agent("infra-optimizer")
    assert [p.kind for p in agent.principals] == ["role", "user"]
    assert agent.principals[1].name == "agent-infra-bot"
    assert settings.log_archive is not None
    assert settings.log_archive.organization_id == "o-abc123"
    assert settings.log_archive.public_keys == (tmp_path / "keys/cloudtrail-2026.pem",)
    assert settings.aws.endpoint_url == "http://127.0.0.1:5000"


def test_init_example_is_valid(tmp_path: Path) -> None:
    assert load_config(write(tmp_path, EXAMPLE_CONFIG)).agent("infra-optimizer").account == "111111111111"


@pytest.mark.parametrize(
    ("mutation", "key_path"),
    [
        (("  region: us-east-1\n", "  region: us-east-1\n  regoin: x\n"), "aws.regoin"),
        (("  bucket: org-cloudtrail-archive\n", "  bucket: 12\n"), "log_archive.bucket"),
        (('    account: "111111111111"\n', "    account: 111111111111\n"), "agents.infra-optimizer.account"),
        (
            ("      - arn:aws:iam::111111111111:user/agent-infra-bot\n", "      - not-an-arn\n"),
            "agents.infra-optimizer.principals[1]",
        ),
        (('  regions: ["us-east-1", "us-west-2"]\n', '  regions: ["moon-1"]\n'), "log_archive.regions[0]"),
        (("    git:\n", "    gti:\n"), "agents.infra-optimizer.gti"),
    ],
)
def test_bad_key_names_its_path(tmp_path: Path, mutation: tuple[str, str], key_path: str) -> None:
    old, new = mutation
    assert old in DESIGN_EXAMPLE
    with pytest.raises(ConfigError) as info:
        load_config(write(tmp_path, DESIGN_EXAMPLE.replace(old, new, 1)))
    assert key_path in str(info.value)
    assert info.value.exit_code == ExitCode.USAGE


def test_missing_agents_is_an_error() -> None:
    with pytest.raises(ConfigError, match="agents"):
        parse_config({"aws": {"region": "us-east-1"}})


def test_unknown_agent_lists_known_ones(tmp_path: Path) -> None:
    settings = load_config(write(tmp_path, DESIGN_EXAMPLE))
    with pytest.raises(ConfigError, match="infra-optimizer"):
        settings.agent("nope")


def test_cli_config_error_exits_2_before_any_call(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = write(tmp_path, DESIGN_EXAMPLE.replace("  profile: responder\n", "  profile: responder\n  colour: blue\n"))
    # An endpoint nobody listens on: reaching AWS would fail differently (exit 1/3), not with 2.
    code = main(["contain", "infra-optimizer", "--config", str(bad), "--out", str(tmp_path / "cases")])
    assert code == 2
    err = capsys.readouterr().err
    assert "aws.colour" in err and "Traceback" not in err
    assert not (tmp_path / "cases").exists()


def test_missing_config_file_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["contain", "x", "--config", str(tmp_path / "none.yaml")]) == 2
    assert "not found" in capsys.readouterr().err


def test_malformed_yaml_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid YAML at line"):
        load_config(write(tmp_path, "agents: [\n  - {"))


def test_init_writes_a_loadable_file(tmp_path: Path) -> None:
    target = tmp_path / "irkit.yaml"
    result = CliRunner().invoke(app, ["init", "--path", str(target)])
    assert result.exit_code == 0
    assert load_config(target).agents
    again = main(["init", "--path", str(target)])
    assert again == 2


def test_agent_baseline_path_is_relative_to_the_config(tmp_path: Path) -> None:
    text = DESIGN_EXAMPLE.replace("    terraform:\n", "    baseline: baselines/bot.json\n    terraform:\n", 1)
    agent = load_config(write(tmp_path, text)).agent("infra-optimizer")
    assert agent.baseline == tmp_path / "baselines/bot.json"

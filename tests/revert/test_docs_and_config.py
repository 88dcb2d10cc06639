"""docs/revert.md stays true to the registry; the revert stage's configuration keys are validated."""

from __future__ import annotations

from pathlib import Path

import pytest

from irkit.config import dump_config, parse_config
from irkit.errors import ConfigError
from irkit.revert.inverses import all_inverses
from irkit.steps import registry

DOC = Path(__file__).resolve().parents[2] / "docs" / "revert.md"


def test_the_revert_doc_names_every_registered_inverse() -> None:
    text = DOC.read_text(encoding="utf-8")
    missing = [name for name in all_inverses() if f"`{name}`" not in text]
    assert missing == []


def test_the_revert_step_declares_every_inverse_permission() -> None:
    step = registry()["revert"]
    needed = {p for inv in all_inverses().values() for p in inv.permissions}
    assert needed <= set(step.permissions)


def agent(**extra: object) -> dict[str, object]:
    body: dict[str, object] = {"account": "111111111111", "principals": ["arn:aws:iam::111111111111:role/agent"]}
    body.update(extra)
    return {"agents": {"bot": body}}


def test_git_and_terraform_keys_load_and_round_trip(tmp_path: Path) -> None:
    data = agent(
        git={"repo": "infra", "authors": ["agent@example.com"], "base": "main", "remote": "origin"},
        terraform={"dirs": ["infra/prod", "infra/net"], "binary": "tofu", "cli_config": "tf.rc"},
    )
    settings = parse_config(data, base_dir=tmp_path)
    bot = settings.agent("bot")
    assert bot.git is not None and bot.git.base == "main" and bot.git.remote == "origin"
    assert bot.terraform is not None
    assert bot.terraform.roots == (tmp_path / "infra/prod", tmp_path / "infra/net")
    assert bot.terraform.cli_config == tmp_path / "tf.rc"
    import yaml

    again = parse_config(yaml.safe_load(dump_config(settings)), base_dir=tmp_path).agent("bot")
    assert again.git == bot.git and again.terraform == bot.terraform


@pytest.mark.parametrize(
    ("extra", "path"),
    [
        ({"git": {"repo": "r"}}, "agents.bot.git.authors"),
        ({"git": {"repo": "r", "authors": []}}, "agents.bot.git.authors"),
        ({"git": {"repo": "r", "authors": ["a"], "base": "--upload-pack=evil"}}, "agents.bot.git.base"),
        ({"git": {"repo": "r", "authors": ["a"], "remote": "-oProxyCommand=x"}}, "agents.bot.git.remote"),
        ({"git": {"repo": "r", "authors": ["a"], "branch": "x"}}, "agents.bot.git.branch"),
        ({"terraform": {}}, "agents.bot.terraform"),
        ({"terraform": {"dir": "a", "dirs": ["b"]}}, "agents.bot.terraform"),
        ({"terraform": {"dirs": []}}, "agents.bot.terraform.dirs"),
        ({"terraform": {"dir": "a", "binary": " "}}, "agents.bot.terraform.binary"),
        ({"terraform": {"dir": "a", "cli_config": 3}}, "agents.bot.terraform.cli_config"),
    ],
)
def test_a_bad_key_names_its_path(extra: dict[str, object], path: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(agent(**extra))
    assert err.value.key_path == path

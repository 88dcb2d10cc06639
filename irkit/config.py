"""irkit.yaml → frozen, validated settings.

Everything is checked before the first API call: an unknown key, a wrong type or a missing
required value raises :class:`ConfigError` naming the key path (``agents.infra-optimizer.account``),
which the CLI turns into exit code 2.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from irkit.errors import ConfigError

DEFAULT_CONFIG_NAME = "irkit.yaml"
CONFIG_ENV = "IRKIT_CONFIG"

_ACCOUNT_RE = re.compile(r"^\d{12}$")
_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::(\d{12}):(user|role)/(.+)$")
_REGION_RE = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$")
_ORG_RE = re.compile(r"^o-[a-z0-9]{4,32}$")
_REF_RE = re.compile(r"^(?!-)(?!.*\.\.)[A-Za-z0-9._/-]{1,200}$")  # a branch or remote name, never an option


@dataclass(frozen=True, slots=True)
class AwsSettings:
    region: str = "us-east-1"
    endpoint_url: str | None = None
    profile: str | None = None


@dataclass(frozen=True, slots=True)
class LogArchiveSettings:
    bucket: str
    prefix: str = ""
    organization_id: str | None = None
    role_arn: str | None = None
    accounts: tuple[str, ...] = ()
    regions: tuple[str, ...] = ()
    public_keys: tuple[Path, ...] = ()


@dataclass(frozen=True, slots=True)
class GitSettings:
    repo: Path
    authors: tuple[str, ...] = ()
    base: str | None = None
    """The branch ``irkit/revert-<case>`` starts from (default: the branch checked out in ``repo``)."""
    remote: str | None = None
    """Where the revert branch is pushed, only when asked (never forced)."""


@dataclass(frozen=True, slots=True)
class TerraformSettings:
    dir: Path
    binary: str = "terraform"
    dirs: tuple[Path, ...] = ()
    """Every root, in apply order (``dir`` is the first); one plan each."""
    cli_config: Path | None = None
    """A terraform CLI config (``TF_CLI_CONFIG_FILE``): a provider mirror for offline runs, say."""

    @property
    def roots(self) -> tuple[Path, ...]:
        return self.dirs or (self.dir,)


@dataclass(frozen=True, slots=True)
class Principal:
    arn: str
    account: str
    kind: str  # "user" | "role"
    name: str  # the last path segment: what IAM APIs take as UserName / RoleName

    @classmethod
    def parse(cls, arn: str) -> Principal:
        m = _ARN_RE.match(arn)
        if not m:
            raise ValueError(f"not an IAM user or role ARN: {arn!r}")
        return cls(arn=arn, account=m.group(1), kind=m.group(2), name=m.group(3).rsplit("/", 1)[-1])


@dataclass(frozen=True, slots=True)
class AgentSettings:
    name: str
    account: str
    principals: tuple[Principal, ...]
    git: GitSettings | None = None
    terraform: TerraformSettings | None = None
    baseline: Path | None = None
    """The agent's learned baseline (``irkit baseline AGENT``); detection flags deviations from it."""


@dataclass(frozen=True, slots=True)
class DetectionSettings:
    sigma_dirs: tuple[Path, ...] = ()
    """Folders of Sigma rules (product: aws, service: cloudtrail) run beside the built-in rules. A folder
    that does not exist is a coverage gap of the detect step, not a configuration error: a case resumed
    from another directory must still run."""


WATCH_SEVERITIES = ("low", "medium", "high", "critical")
_ENV_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_SILENCE_LIMIT = 7 * 24 * 60


@dataclass(frozen=True, slots=True)
class WatchSettings:
    """``irkit watch``: where pages go and when it contains. The paging key is read from the
    environment variable ``routing_key_env`` names, never from the file (irkit.yaml is shared)."""

    page_url: str | None = None
    routing_key_env: str = "IRKIT_PAGER_KEY"
    page_at: str = "high"
    contain_at: str | None = None
    max_silence_minutes: float = 20.0


@dataclass(frozen=True, slots=True)
class Settings:
    aws: AwsSettings
    log_archive: LogArchiveSettings | None
    agents: Mapping[str, AgentSettings]
    source: Path | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)
    detection: DetectionSettings = field(default_factory=DetectionSettings)
    watch: WatchSettings = field(default_factory=WatchSettings)

    def agent(self, name: str) -> AgentSettings:
        try:
            return self.agents[name]
        except KeyError:
            known = ", ".join(sorted(self.agents)) or "(none)"
            raise ConfigError(
                f"unknown agent {name!r}; agents in this file: {known}",
                key_path="agents",
                source=str(self.source or ""),
            ) from None


def user_config_path() -> Path:
    """``$XDG_CONFIG_HOME/irkit/irkit.yaml``, by default ``~/.config/irkit/irkit.yaml``."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "irkit" / DEFAULT_CONFIG_NAME


def config_candidates(explicit: Path | None = None) -> list[Path]:
    """Where irkit looks for its configuration, in order (the first that exists is used)."""
    if explicit is not None:
        return [explicit]
    env = os.environ.get(CONFIG_ENV)
    if env:
        return [Path(env)]
    return [Path(DEFAULT_CONFIG_NAME), user_config_path()]


def resolve_config_path(explicit: Path | None) -> Path:
    """``--config``, else ``$IRKIT_CONFIG``, else ``./irkit.yaml``, else ``~/.config/irkit/irkit.yaml``
    (``$XDG_CONFIG_HOME`` respected); when none exists, ``./irkit.yaml`` (whose absence is then reported)."""
    candidates = config_candidates(explicit)
    return next((c for c in candidates if c.exists()), candidates[0])


def load_config(path: Path | None = None) -> Settings:
    """Read and validate irkit.yaml. Never returns a half-valid configuration."""
    path = resolve_config_path(path)
    src = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        looked = "" if path != Path(DEFAULT_CONFIG_NAME) else f"; also looked for {user_config_path()}"
        raise ConfigError(
            f"configuration file not found{looked} (pass --config, set $IRKIT_CONFIG, or run `irkit init`)",
            source=src,
        ) from None
    except OSError as exc:
        raise ConfigError(f"cannot read configuration: {exc.strerror}", source=src) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"not UTF-8 text (byte {exc.start}); irkit.yaml must be UTF-8", source=src) from None
    import yaml  # a command that reads no irkit.yaml never loads the YAML library

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise ConfigError(f"not valid YAML{where}", source=src) from None
    return parse_config(data, source=src, base_dir=path.parent)


def parse_config(data: object, *, source: str = "", base_dir: Path | None = None) -> Settings:
    v = _Validator(source, base_dir or Path())
    root = v.mapping(data, "", required={"agents"}, optional={"aws", "log_archive", "detection", "watch"})
    aws = v.aws(root.get("aws"))
    archive = v.log_archive(root["log_archive"]) if root.get("log_archive") is not None else None
    agents = v.agents(root["agents"])
    detection = v.detection(root.get("detection"))
    watch = v.watch(root.get("watch"))
    return Settings(
        aws=aws,
        log_archive=archive,
        agents=agents,
        source=Path(source) if source else None,
        detection=detection,
        watch=watch,
    )


class _Validator:
    def __init__(self, source: str, base_dir: Path) -> None:
        self.source = source
        self.base_dir = base_dir

    def fail(self, key_path: str, message: str) -> ConfigError:
        return ConfigError(message, key_path=key_path or "(top level)", source=self.source)

    def mapping(self, value: object, path: str, *, required: set[str], optional: set[str]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(path, f"expected a mapping, got {_kind(value)}")
        for key in value:
            if not isinstance(key, str):
                raise self.fail(path, f"keys must be strings, got {key!r}")
            if key not in required | optional:
                allowed = ", ".join(sorted(required | optional))
                raise self.fail(_join(path, key), f"unknown key (allowed here: {allowed})")
        for key in sorted(required):
            if key not in value or value[key] is None:
                raise self.fail(_join(path, key), "required key is missing")
        return value

    def string(self, value: object, path: str, *, pattern: re.Pattern[str] | None = None, hint: str = "") -> str:
        if isinstance(value, int) and not isinstance(value, bool) and pattern is _ACCOUNT_RE:
            # YAML reads an unquoted 12-digit account id as an int; a leading zero would be lost.
            raise self.fail(path, f'account ids must be quoted strings ("{value:012d}"), got a number')
        if not isinstance(value, str):
            raise self.fail(path, f"expected a string, got {_kind(value)}")
        if pattern is not None and not pattern.match(value):
            raise self.fail(path, f"{value!r} is not {hint or 'valid'}")
        return value

    def string_list(
        self, value: object, path: str, *, pattern: re.Pattern[str] | None = None, hint: str = ""
    ) -> tuple[str, ...]:
        if not isinstance(value, list):
            raise self.fail(path, f"expected a list, got {_kind(value)}")
        return tuple(self.string(item, f"{path}[{i}]", pattern=pattern, hint=hint) for i, item in enumerate(value))

    def aws(self, value: object) -> AwsSettings:
        if value is None:
            return AwsSettings()
        m = self.mapping(value, "aws", required=set(), optional={"region", "endpoint_url", "profile"})
        region = self.string(m.get("region", "us-east-1"), "aws.region", pattern=_REGION_RE, hint="an AWS region")
        endpoint = m.get("endpoint_url")
        if endpoint is not None:
            endpoint = self.string(endpoint, "aws.endpoint_url")
            if not endpoint.startswith(("http://", "https://")):
                raise self.fail("aws.endpoint_url", "must start with http:// or https://")
        profile = self.string(m["profile"], "aws.profile") if m.get("profile") is not None else None
        return AwsSettings(region=region, endpoint_url=endpoint, profile=profile)

    def log_archive(self, value: object) -> LogArchiveSettings:
        p = "log_archive"
        m = self.mapping(
            value,
            p,
            required={"bucket"},
            optional={"prefix", "organization_id", "role_arn", "accounts", "regions", "public_keys"},
        )
        bucket = self.string(m["bucket"], f"{p}.bucket")
        prefix = self.string(m.get("prefix") or "", f"{p}.prefix").strip("/")
        org = m.get("organization_id")
        org_id = (
            self.string(org, f"{p}.organization_id", pattern=_ORG_RE, hint="an organization id (o-…)") if org else None
        )
        role = m.get("role_arn")
        role_arn = (
            self.string(
                role, f"{p}.role_arn", pattern=re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/.+$"), hint="a role ARN"
            )
            if role
            else None
        )
        accounts = self.string_list(
            m.get("accounts", []), f"{p}.accounts", pattern=_ACCOUNT_RE, hint="a 12-digit account id"
        )
        regions = self.string_list(m.get("regions", []), f"{p}.regions", pattern=_REGION_RE, hint="an AWS region")
        keys = tuple(self._path(k) for k in self.string_list(m.get("public_keys", []), f"{p}.public_keys"))
        return LogArchiveSettings(
            bucket=bucket,
            prefix=prefix,
            organization_id=org_id,
            role_arn=role_arn,
            accounts=accounts,
            regions=regions,
            public_keys=keys,
        )

    def detection(self, value: object) -> DetectionSettings:
        if value is None:
            return DetectionSettings()
        m = self.mapping(value, "detection", required=set(), optional={"sigma_dirs"})
        raw = m.get("sigma_dirs")
        dirs = self.string_list(raw, "detection.sigma_dirs") if raw is not None else ()
        for i, entry in enumerate(dirs):
            if not entry.strip():
                raise self.fail(f"detection.sigma_dirs[{i}]", "an empty folder name")
        return DetectionSettings(sigma_dirs=tuple(self._path(d) for d in dirs))

    def watch(self, value: object) -> WatchSettings:
        if value is None:
            return WatchSettings()
        p = "watch"
        if isinstance(value, dict) and "routing_key" in value:
            raise self.fail(
                f"{p}.routing_key",
                "the paging key is never read from the file: put it in an environment variable and name "
                "that variable in watch.routing_key_env",
            )
        m = self.mapping(
            value,
            p,
            required=set(),
            optional={"page_url", "routing_key_env", "page_at", "contain_at", "max_silence_minutes"},
        )
        url = m.get("page_url")
        if url is not None:
            url = self.string(url, f"{p}.page_url")
            if not url.startswith(("http://", "https://")):
                raise self.fail(f"{p}.page_url", "must start with http:// or https://")
        env = self.string(
            m.get("routing_key_env", "IRKIT_PAGER_KEY"),
            f"{p}.routing_key_env",
            pattern=_ENV_NAME_RE,
            hint="an environment variable name (like IRKIT_PAGER_KEY)",
        )
        page_at = self.severity(m.get("page_at", "high"), f"{p}.page_at")
        contain_at = self.severity(m["contain_at"], f"{p}.contain_at") if m.get("contain_at") is not None else None
        silence = m.get("max_silence_minutes", 20)
        if isinstance(silence, bool) or not isinstance(silence, int | float) or not 0 < silence <= MAX_SILENCE_LIMIT:
            raise self.fail(
                f"{p}.max_silence_minutes", f"expected a number of minutes above 0 and at most {MAX_SILENCE_LIMIT}"
            )
        return WatchSettings(
            page_url=url,
            routing_key_env=env,
            page_at=page_at,
            contain_at=contain_at,
            max_silence_minutes=float(silence),
        )

    def severity(self, value: object, path: str) -> str:
        if not isinstance(value, str) or value not in WATCH_SEVERITIES:
            raise self.fail(path, f"expected one of {', '.join(WATCH_SEVERITIES)}, got {value!r}")
        return value

    def agents(self, value: object) -> dict[str, AgentSettings]:
        if not isinstance(value, dict) or not value:
            raise self.fail("agents", "expected a mapping of at least one agent name to its settings")
        out: dict[str, AgentSettings] = {}
        for name, body in value.items():
            if not isinstance(name, str) or not re.match(r"^[A-Za-z0-9][A-Za-z0-9._-]*$", name):
                raise self.fail(f"agents.{name}", "agent names use letters, digits, '.', '_' and '-'")
            out[name] = self.agent(name, body)
        return out

    def agent(self, name: str, value: object) -> AgentSettings:
        p = f"agents.{name}"
        m = self.mapping(value, p, required={"account", "principals"}, optional={"git", "terraform", "baseline"})
        account = self.string(m["account"], f"{p}.account", pattern=_ACCOUNT_RE, hint="a 12-digit account id")
        arns = self.string_list(m["principals"], f"{p}.principals")
        if not arns:
            raise self.fail(f"{p}.principals", "list at least one IAM user or role ARN")
        principals = []
        for i, arn in enumerate(arns):
            try:
                principal = Principal.parse(arn)
            except ValueError as exc:
                raise self.fail(f"{p}.principals[{i}]", str(exc)) from None
            principals.append(principal)
        git = self.git(m["git"], f"{p}.git") if m.get("git") is not None else None
        terraform = self.terraform(m["terraform"], f"{p}.terraform") if m.get("terraform") is not None else None
        baseline = self._path(self.string(m["baseline"], f"{p}.baseline")) if m.get("baseline") is not None else None
        return AgentSettings(
            name=name, account=account, principals=tuple(principals), git=git, terraform=terraform, baseline=baseline
        )

    def git(self, value: object, p: str) -> GitSettings:
        g = self.mapping(value, p, required={"repo"}, optional={"authors", "base", "remote"})
        authors = self.string_list(g.get("authors", []), f"{p}.authors")
        if not [a for a in authors if a.strip()]:
            # Without identities no commit is the agent's: the revert would silently find nothing.
            raise self.fail(f"{p}.authors", "list the agent's commit identities (emails or names)")
        base = self.string(g["base"], f"{p}.base", pattern=_REF_RE, hint="a branch name") if g.get("base") else None
        remote = (
            self.string(g["remote"], f"{p}.remote", pattern=_REF_RE, hint="a remote name") if g.get("remote") else None
        )
        return GitSettings(
            repo=self._path(self.string(g["repo"], f"{p}.repo")), authors=authors, base=base, remote=remote
        )

    def terraform(self, value: object, p: str) -> TerraformSettings:
        t = self.mapping(value, p, required=set(), optional={"dir", "dirs", "binary", "cli_config"})
        if ("dir" in t) == ("dirs" in t):
            raise self.fail(p, "set dir (one root) or dirs (several, applied in order), not both and not neither")
        if "dirs" in t:
            dirs = tuple(self._path(d) for d in self.string_list(t["dirs"], f"{p}.dirs"))
            if not dirs:
                raise self.fail(f"{p}.dirs", "list at least one terraform root")
        else:
            dirs = (self._path(self.string(t["dir"], f"{p}.dir")),)
        binary = self.string(t.get("binary", "terraform"), f"{p}.binary")
        if not binary.strip():
            raise self.fail(f"{p}.binary", "expected terraform, tofu, or a path to the binary")
        cli = t.get("cli_config")
        return TerraformSettings(
            dir=dirs[0],
            binary=binary,
            dirs=dirs if "dirs" in t else (),
            cli_config=self._path(self.string(cli, f"{p}.cli_config")) if cli is not None else None,
        )

    def _path(self, raw: str) -> Path:
        path = Path(raw).expanduser()
        return path if path.is_absolute() else self.base_dir / path


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _kind(value: object) -> str:
    if value is None:
        return "nothing"
    return {
        dict: "a mapping",
        list: "a list",
        str: "a string",
        bool: "a boolean",
        int: "a number",
        float: "a number",
    }.get(type(value), type(value).__name__)


EXAMPLE_CONFIG = """\
# irkit.yaml: who the agents are and where their audit trail lives.
# Every key is checked before the first AWS call; an unknown key is an error (exit 2).

aws:
  region: us-east-1
  # endpoint_url: http://127.0.0.1:5000    # a simulator (moto server, LocalStack)
  # profile: responder                      # otherwise the standard credential chain

log_archive:
  bucket: org-cloudtrail-archive            # the CloudTrail bucket in the log-archive account
  prefix: ""                                # key prefix before AWSLogs/, if the trail has one
  # organization_id: o-abc123def4           # org trail: AWSLogs/<org-id>/<account>/...
  # role_arn: arn:aws:iam::222222222222:role/irkit-log-reader   # cross-account read role
  accounts: ["111111111111"]
  # regions: ["us-east-1", "us-west-2"]     # default: every enabled region
  # public_keys: ["keys/cloudtrail.pem"]    # trusted digest keys when ListPublicKeys is unavailable

agents:
  infra-optimizer:
    account: "111111111111"                 # quote account ids: they are strings
    principals:
      - arn:aws:iam::111111111111:role/agent-infra-optimizer
      - arn:aws:iam::111111111111:user/agent-infra-bot
    # git:                                  # the revert stage: the agent's commits are reverted
    #   repo: ../infra-live
    #   authors: ["agent-infra-optimizer@example.com"]   # author or committer: both are checked
    #   base: main                          # default: the branch checked out in repo
    #   remote: origin                      # push irkit/revert-<case> only when asked
    # terraform:
    #   dir: ../infra-live/prod             # or dirs: [...] (one plan each, applied in order)
    #   binary: terraform                   # or tofu, or a path
    # baseline: irkit-baselines/infra-optimizer.json   # `irkit baseline infra-optimizer` writes it

# detection:
#   sigma_dirs: [rules/sigma]               # Sigma rules for CloudTrail, run beside irkit's own

# watch:                                    # `irkit watch AGENT`: continuous monitoring, paging
#   page_url: https://events.pagerduty.com/v2/enqueue
#   routing_key_env: IRKIT_PAGER_KEY        # the key is read from this environment variable, never the file
#   page_at: high                           # page findings at or above this severity
#   contain_at: critical                    # optional: contain the agent on the first such finding
#   max_silence_minutes: 20                 # no delivery for longer is a critical finding
"""


def dump_config(settings: Settings) -> str:
    """Settings back to irkit.yaml (for a case made from settings built in code, like the drill's)."""
    data: dict[str, Any] = {"aws": {"region": settings.aws.region}}
    if settings.aws.endpoint_url:
        data["aws"]["endpoint_url"] = settings.aws.endpoint_url
    if settings.aws.profile:
        data["aws"]["profile"] = settings.aws.profile
    la = settings.log_archive
    if la is not None:
        archive: dict[str, Any] = {"bucket": la.bucket, "prefix": la.prefix}
        if la.organization_id:
            archive["organization_id"] = la.organization_id
        if la.role_arn:
            archive["role_arn"] = la.role_arn
        archive["accounts"] = list(la.accounts)
        if la.regions:
            archive["regions"] = list(la.regions)
        if la.public_keys:
            archive["public_keys"] = [str(p) for p in la.public_keys]
        data["log_archive"] = archive
    agents: dict[str, Any] = {}
    for name, agent in settings.agents.items():
        body: dict[str, Any] = {"account": agent.account, "principals": [p.arn for p in agent.principals]}
        if agent.git:
            body["git"] = {"repo": str(agent.git.repo), "authors": list(agent.git.authors)}
            for key in ("base", "remote"):
                if getattr(agent.git, key):
                    body["git"][key] = getattr(agent.git, key)
        if agent.terraform:
            tf = agent.terraform
            body["terraform"] = {"dirs": [str(d) for d in tf.dirs]} if tf.dirs else {"dir": str(tf.dir)}
            body["terraform"]["binary"] = tf.binary
            if tf.cli_config:
                body["terraform"]["cli_config"] = str(tf.cli_config)
        if agent.baseline:
            body["baseline"] = str(agent.baseline)
        agents[name] = body
    data["agents"] = agents
    if settings.detection.sigma_dirs:
        data["detection"] = {"sigma_dirs": [str(p) for p in settings.detection.sigma_dirs]}
    if settings.watch != WatchSettings():
        w = settings.watch
        watch: dict[str, Any] = {"routing_key_env": w.routing_key_env, "page_at": w.page_at}
        if w.page_url:
            watch["page_url"] = w.page_url
        if w.contain_at:
            watch["contain_at"] = w.contain_at
        watch["max_silence_minutes"] = w.max_silence_minutes
        data["watch"] = watch
    import yaml

    return yaml.safe_dump(data, sort_keys=False)

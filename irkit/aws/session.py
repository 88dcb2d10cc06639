"""AWS sessions for irkit: one factory, retries on, the dry-run guard installed when asked.

Every client irkit uses comes from :class:`Aws`, so ``aws.endpoint_url`` (a simulator), the
profile, retries and the dry-run guard apply everywhere without a step having to remember them.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import botocore.exceptions
import botocore.loaders
import botocore.session
from botocore.config import Config

from irkit import __version__
from irkit.aws.guard import refuse_mutations
from irkit.config import AwsSettings
from irkit.errors import AwsCallError, ConfigError, CredentialsError, DryRunViolation
from irkit.redact import register_secret

T = TypeVar("T")

_RETRIES = Config(
    # Enough to ride out throttling; few enough that an unreachable endpoint fails in seconds.
    retries={"mode": "adaptive", "max_attempts": 6},
    connect_timeout=5,
    read_timeout=60,
    user_agent_extra=f"irkit/{__version__}",
    max_pool_connections=32,
)

# Control-plane calls (IAM, STS, EC2, …) answer in well under a second: a 60 s read timeout,
# six times over, would let an endpoint that accepts connections but never answers (a hung proxy)
# hold containment for many minutes. Large reads (S3 objects, Athena results) keep _RETRIES.
_CONTROL = Config(
    retries={"mode": "adaptive", "max_attempts": 6},  # as many as _RETRIES: throttling is ridden out
    connect_timeout=5,
    read_timeout=5,
    user_agent_extra=f"irkit/{__version__}",
    max_pool_connections=32,
)
_BULK_SERVICES = frozenset({"s3", "athena", "cloudtrail"})

# Containment (``urgent``): botocore retries once (a dropped connection, a 5xx) and the containment
# layer (irkit.contain.calls.Persistent) rides out throttling with a short, capped back-off of
# its own. Throttling anyone in the account can cause must not hold the first key back: botocore's
# throttling back-off (1 s doubling to 20 s) and adaptive mode's client-side rate limit (down to
# 0.5 request/s) measured 30-100 s to the first revocation under 30-50 % throttling.
_URGENT = Config(
    retries={"mode": "standard", "max_attempts": 1},
    connect_timeout=5,
    read_timeout=5,
    user_agent_extra=f"irkit/{__version__}",
    max_pool_connections=32,
)

# Optional calls that have a fallback (ListPublicKeys → key files) should not retry for a minute.
_QUICK = Config(
    retries={"mode": "standard", "max_attempts": 2},
    connect_timeout=5,
    read_timeout=20,
    user_agent_extra=f"irkit/{__version__}",
)


# What an error body looks like when it is not an AWS error document but a proxy's or a simulator's
# page (``<!doctype html>…``, an nginx 502, an XML body botocore could not parse): never shown raw.
_MARKUP = re.compile(r"^\s*<(?:!doctype|html|\?xml|[a-z][\w:-]*[\s>/])", re.IGNORECASE)
_XML_CODE = re.compile(r"<Code>([A-Za-z0-9.]{1,64})</Code>")
_TITLE = re.compile(r"<title>([^<]{1,120})</title>", re.IGNORECASE)


def summarise_body(message: str, status: object = None) -> str:
    """An error message as a responder can read it: a raw HTML or XML body becomes its HTTP status,
    its error code or title, and its size (the body is not shown)."""
    if not message or not _MARKUP.match(message):
        return message
    code = _XML_CODE.search(message)
    title = _TITLE.search(message)
    kind = "HTML" if re.match(r"\s*<(!doctype html|html)", message, re.IGNORECASE) else "XML"
    parts = [f"HTTP {status}" if status else "an error", f"{kind} body of {len(message)} bytes not shown"]
    if code:
        parts.insert(1, f"error code {code.group(1)}")
    elif title:
        parts.insert(1, f"page title {title.group(1).strip()!r}")
    return ", ".join(parts[:-1]) + f" ({parts[-1]})"


def _summarise_error(http_response: Any = None, parsed: Any = None, **_: Any) -> None:
    """after-call hook: rewrite a markup error body in place, before botocore raises it as a ClientError
    (every message irkit shows, journals or reports comes from that error)."""
    if not isinstance(parsed, dict):
        return
    err = parsed.get("Error")
    if not isinstance(err, dict):
        return
    status = getattr(http_response, "status_code", None)
    for field in ("Message", "Code"):
        value = err.get(field)
        if isinstance(value, str) and _MARKUP.match(value):
            err[field] = summarise_body(value, status) if field == "Message" else str(status or "Unknown")


# botocore's credential providers (``CredentialResolver.providers[].METHOD``), as a responder knows them.
_SOURCES: Mapping[str, str] = {
    "env": "environment variables AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY",
    "assume-role": "a role_arn profile",
    "assume-role-with-web-identity": "web identity (AWS_WEB_IDENTITY_TOKEN_FILE)",
    "sso": "IAM Identity Center (SSO) profile",
    "shared-credentials-file": "the shared credentials file ({credentials})",
    "login": "`aws login` session",
    "custom-process": "credential_process",
    "config-file": "the AWS config file ({config})",
    "container-role": "container credentials (ECS/EKS)",
    "iam-role": "instance metadata (an EC2 instance role)",
}
# Answers that mean the credentials themselves are missing, wrong or expired (not a network problem).
_BAD_CREDENTIALS = frozenset(
    {
        "NoCredentials",
        "PartialCredentialsError",
        "CredentialRetrievalError",
        "SSOTokenLoadError",
        "UnauthorizedSSOTokenError",
        "TokenRetrievalError",
        "InvalidClientTokenId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
        "UnrecognizedClientException",
        "InvalidAccessKeyId",
        "AuthFailure",
    }
)


@dataclass(frozen=True, slots=True)
class Identity:
    """Who irkit runs as (``sts:GetCallerIdentity``); ``problem`` when AWS could not be asked."""

    arn: str = ""
    account: str = ""
    source: str = ""
    problem: str = ""


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __post_init__(self) -> None:
        register_secret(self.secret_access_key, self.session_token)

    def __repr__(self) -> str:  # never print a secret, even in a debugger or a log line
        return f"StaticCredentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"


_LOADER_LOCK = threading.Lock()
_LOADER: list[botocore.loaders.Loader] = []


def new_session(**kwargs: Any) -> boto3.Session:
    """A ``boto3.Session(**kwargs)`` sharing the process's one botocore data loader.

    Each new botocore session parses the service models it needs again (IAM's, S3's and EC2's are
    megabytes of JSON: a second or more of CPU for a run's few services). The loader only reads the
    installed model files and caches them, so one is shared by every session irkit makes (assumed
    roles, other regions, every run in a long-lived process)."""
    core = botocore.session.get_session()
    with _LOADER_LOCK:
        if _LOADER:
            core.register_component("data_loader", _LOADER[0])
        else:
            _LOADER.append(core.get_component("data_loader"))
        session = boto3.Session(botocore_session=core, **kwargs)
        # boto3 adds its own data folder to the loader's search path on every session: keep it once.
        paths = _LOADER[0].search_paths
        paths[:] = list(dict.fromkeys(paths))
    if kwargs.get("profile_name") is not None:
        core.get_scoped_config()  # a profile that does not exist raises ProfileNotFound here, as boto3 would
    return session


class Aws:
    """A boto3 session with irkit's defaults. Clients are cached per (service, region)."""

    def __init__(
        self,
        settings: AwsSettings,
        *,
        dry_run: bool = False,
        credentials: StaticCredentials | None = None,
        session: boto3.Session | None = None,
    ) -> None:
        self.settings = settings
        self.dry_run = dry_run
        if session is None:
            if credentials is not None:
                session = new_session(
                    aws_access_key_id=credentials.access_key_id,
                    aws_secret_access_key=credentials.secret_access_key,
                    aws_session_token=credentials.session_token,
                    region_name=settings.region,
                )
            else:
                try:
                    session = new_session(profile_name=settings.profile, region_name=settings.region)
                except botocore.exceptions.ProfileNotFound:
                    raise ConfigError(
                        f"AWS profile {settings.profile!r} not found in the AWS config or credentials files",
                        key_path="aws.profile",
                    ) from None
        self._session = session
        session.events.register("after-call", _summarise_error, unique_id="irkit-error-bodies")
        if dry_run:
            session.events.register("before-call", refuse_mutations, unique_id="irkit-dry-run-guard")
        self._clients: dict[tuple[str, str, bool, bool], Any] = {}
        self._lock = threading.Lock()

    @property
    def region(self) -> str:
        return self.settings.region

    def client(self, service: str, region: str | None = None, *, quick: bool = False, urgent: bool = False) -> Any:
        """A client for ``service``; ``quick`` for optional calls with a fallback (fail fast, few retries);
        ``urgent`` for containment, which retries throttling itself (see ``_URGENT``)."""
        key = (service, region or self.settings.region, quick, urgent)
        with self._lock:  # creating clients from one session is not thread-safe; using them is
            if key not in self._clients:
                config = _QUICK if quick else _URGENT if urgent else _RETRIES if service in _BULK_SERVICES else _CONTROL
                self._clients[key] = self._session.client(
                    service,  # type: ignore[call-overload]
                    region_name=key[1],
                    endpoint_url=self.settings.endpoint_url,
                    config=config,
                )
                self._register_own_credentials()
            return self._clients[key]

    def _register_own_credentials(self) -> None:
        """The responder's own secret (environment, profile, SSO) is masked like any other: an
        error that quotes it must not carry it to the terminal, the journal or the report."""
        creds = self._session.get_credentials()  # resolved (and cached) by the client just made
        if creds is not None:
            frozen = creds.get_frozen_credentials()
            register_secret(frozen.secret_key, frozen.token)

    def credential_env(self) -> dict[str, str]:
        """The responder's credentials as environment variables, for a subprocess that calls AWS
        itself (terraform): the same identity irkit uses, never the agent's (they are revoked)."""
        env = {"AWS_REGION": self.settings.region, "AWS_DEFAULT_REGION": self.settings.region}
        creds = self._session.get_credentials()
        if creds is None:
            return env
        frozen = creds.get_frozen_credentials()
        register_secret(frozen.secret_key, frozen.token)
        env |= {"AWS_ACCESS_KEY_ID": str(frozen.access_key), "AWS_SECRET_ACCESS_KEY": str(frozen.secret_key)}
        if frozen.token:
            env["AWS_SESSION_TOKEN"] = frozen.token
        return env
    def credential_chain(self) -> str:
        """Where boto3 looks for credentials, in order, as this session was set up."""
        if self.settings.profile:
            return f"AWS profile {self.settings.profile!r} (aws.profile)"
        try:
            resolver = self._session._session.get_component("credential_provider")
            methods = [str(getattr(p, "METHOD", "")) for p in resolver.providers]
        except Exception:  # a session built by a caller (tests): say what boto3 does by default
            methods = list(_SOURCES)
        paths = {
            "credentials": os.environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
            "config": os.environ.get("AWS_CONFIG_FILE", "~/.aws/config"),
        }
        named = [_SOURCES[m].format(**paths) for m in methods if m in _SOURCES]
        return "the standard credential chain: " + ", ".join(named)

    def identity(self) -> Identity:
        """Preflight: the credentials resolve and AWS accepts them (``sts:GetCallerIdentity``, which no
        policy can deny). Missing, wrong or expired credentials raise :class:`CredentialsError` (exit 2);
        an STS that cannot be reached is a ``problem`` (the run goes on and says so)."""
        try:
            creds = self._session.get_credentials()
        except botocore.exceptions.BotoCoreError as exc:  # a broken SSO cache, a failing credential_process
            raise CredentialsError(
                f"AWS credentials could not be loaded ({type(exc).__name__}: {exc}); tried {self.credential_chain()}"
            ) from None
        if creds is None:
            raise CredentialsError(
                f"no AWS credentials found; tried {self.credential_chain()}. Set a profile (aws.profile or "
                "AWS_PROFILE), export credentials, or run where an instance or container role is available"
            )
        source = str(getattr(creds, "method", "") or "")
        sts = self.client("sts", urgent=True)
        try:
            who = aws_call("sts:GetCallerIdentity", "caller", sts.get_caller_identity)
        except AwsCallError as exc:
            if exc.code in _BAD_CREDENTIALS:
                raise CredentialsError(
                    f"AWS refused the credentials from {_SOURCES.get(source, source or 'the credential chain')}"
                    f" ({exc.code}): {str(exc).split(': ', 2)[-1]}"
                ) from None
            return Identity(source=source, problem=f"sts:GetCallerIdentity failed: {exc.code}: {exc}")
        return Identity(str(who.get("Arn", "")), str(who.get("Account", "")), source)

    def assume_role(self, role_arn: str, *, session_name: str = "irkit-responder") -> Aws:
        """A new :class:`Aws` acting as ``role_arn`` (the log-archive reader, say); same dry-run mode."""
        sts = self.client("sts")
        creds = aws_call(
            "sts:AssumeRole",
            role_arn,
            lambda: sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, DurationSeconds=3600),
        )["Credentials"]
        return Aws(
            self.settings,
            dry_run=self.dry_run,
            credentials=StaticCredentials(creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"]),
        )


def aws_call(action: str, resource: str, fn: Callable[[], T]) -> T:
    """Run one AWS call; a failure becomes :class:`AwsCallError` naming the action and resource."""
    try:
        return fn()
    except DryRunViolation:
        raise
    except botocore.exceptions.ClientError as exc:
        err = exc.response.get("Error", {})
        raise AwsCallError(action, resource, str(err.get("Code", "Unknown")), str(err.get("Message", ""))) from None
    except botocore.exceptions.NoCredentialsError:
        raise AwsCallError(action, resource, "NoCredentials", "no AWS credentials found") from None
    except botocore.exceptions.EndpointConnectionError as exc:
        raise AwsCallError(action, resource, "EndpointConnectionError", str(exc)) from None
    except botocore.exceptions.BotoCoreError as exc:
        raise AwsCallError(action, resource, type(exc).__name__, str(exc)) from None


def error_code(exc: BaseException) -> str:
    """The AWS error code of a ClientError or AwsCallError; '' for anything else.

    A ClientError without a code (an S3 HEAD answers a bare 404) gives its HTTP status."""
    if isinstance(exc, AwsCallError):
        return exc.code
    if isinstance(exc, botocore.exceptions.ClientError):
        err = exc.response.get("Error", {})
        return str(err.get("Code") or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", ""))
    return ""


class Clients:
    """What reading the trail needs: clients in the agent's account and in the log-archive account.

    The log-archive side assumes ``log_archive.role_arn`` once, on first use (a run that never
    reads the archive never assumes it).
    """

    def __init__(self, home: Aws, role_arn: str | None = None) -> None:
        self.home = home
        self._role_arn = role_arn
        self._archive: Aws | None = None
        self._lock = threading.Lock()

    def client(self, service: str, region: str | None = None, *, quick: bool = False) -> Any:
        return self.home.client(service, region, quick=quick)

    def archive_aws(self) -> Aws:
        with self._lock:
            if self._archive is None:
                self._archive = (
                    self.home.assume_role(self._role_arn, session_name="irkit-log-reader")
                    if self._role_arn
                    else self.home
                )
            return self._archive

    def archive(self, service: str, region: str | None = None, *, quick: bool = False) -> Any:
        return self.archive_aws().client(service, region, quick=quick)

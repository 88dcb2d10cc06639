"""AWS sessions for irkit: one factory, retries on, the dry-run guard installed when asked.

Every client irkit uses comes from :class:`Aws`, so ``aws.endpoint_url`` (a simulator), the
profile, retries and the dry-run guard apply everywhere without a step having to remember them.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

import boto3
import botocore.exceptions
from botocore.config import Config

from irkit import __version__
from irkit.aws.guard import refuse_mutations
from irkit.config import AwsSettings
from irkit.errors import AwsCallError, ConfigError, DryRunViolation
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


@dataclass(frozen=True, slots=True)
class StaticCredentials:
    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    def __post_init__(self) -> None:
        register_secret(self.secret_access_key, self.session_token)

    def __repr__(self) -> str:  # never print a secret, even in a debugger or a log line
        return f"StaticCredentials(access_key_id={self.access_key_id!r}, secret_access_key=***)"


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
                session = boto3.Session(
                    aws_access_key_id=credentials.access_key_id,
                    aws_secret_access_key=credentials.secret_access_key,
                    aws_session_token=credentials.session_token,
                    region_name=settings.region,
                )
            else:
                try:
                    session = boto3.Session(profile_name=settings.profile, region_name=settings.region)
                except botocore.exceptions.ProfileNotFound:
                    raise ConfigError(
                        f"AWS profile {settings.profile!r} not found in the AWS config or credentials files",
                        key_path="aws.profile",
                    ) from None
        self._session = session
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

"""A fault-injecting HTTP proxy in front of a moto server, for reliability tests.

The proxy listens on 127.0.0.1 and forwards every request to one upstream moto server on
127.0.0.1. Rules decide, request by request, whether to answer with a fault instead, in the
wire shape of the service's protocol so that botocore parses it as AWS would send it:

| fault      | query API (IAM, STS)            | JSON API (x-amz-target)        | S3 (REST XML)               |
|------------|---------------------------------|--------------------------------|-----------------------------|
| `throttle` | 400 `Throttling`                | 400 `ThrottlingException`      | 503 `SlowDown`              |
| `error`    | 500 `InternalFailure` / 503 `ServiceUnavailable` (``status``), every protocol                 |
| `deny`     | 403 `AccessDenied`              | 400 `AccessDeniedException`    | 403 `AccessDenied`          |
| `reset`    | the TCP connection is reset before any response byte                                           |
| `vanish`   | —                               | —                              | 404 `NoSuchKey`             |

(``vanish``: an object listed a moment ago is gone when it is read.)

A rule matches on the SigV4 service, the operation (query ``Action``, the JSON target's operation,
or S3's GetObject/HeadObject/ListObjectsV2/...), request parameters (``RoleName=ext-admin``) and,
for S3, a key pattern; it fires with its probability, drawn from one seeded RNG, at most ``limit``
times. Counters say what was asked and what was injected.

```python
with FaultProxy(moto_endpoint, seed=7) as proxy:
    proxy.add(Rule("throttle", probability=0.3, service="iam"))
    boto3.client("iam", endpoint_url=proxy.url).list_users()
```
"""

from __future__ import annotations

import http.client
import random
import re
import socket
import struct
import threading
import uuid
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Literal
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

Fault = Literal["throttle", "error", "deny", "reset", "vanish"]

MAX_BODY = 64 * 1024 * 1024  # a request or response bigger than this is a test bug, not a workload
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te"})
_SCOPE = re.compile(r"Credential=[^/,]+/\d{8}/[^/]+/([^/]+)/aws4_request")
_QUERY_NS = {"iam": "https://iam.amazonaws.com/doc/2010-05-08/", "sts": "https://sts.amazonaws.com/doc/2011-06-15/"}


@dataclass
class Rule:
    fault: Fault
    probability: float = 1.0
    service: str | None = None
    """SigV4 service name (``iam``, ``sts``, ``s3``); None: any."""
    actions: frozenset[str] = frozenset()
    """Operations (``GetRole``, ``UpdateAccessKey``, ``GetObject``); empty: any."""
    params: Mapping[str, str] = field(default_factory=dict)
    """Request parameters that must all be equal (``{"RoleName": "ext-admin"}``)."""
    key_pattern: str | None = None
    """S3 object keys (regex, searched) for ``vanish`` and other S3 rules."""
    status: int = 503
    """HTTP status of an ``error`` fault (500 or 503)."""
    limit: int | None = None
    """Fire at most this many times; None: no limit."""
    hits: int = 0

    def matches(self, req: Request) -> bool:
        if self.service is not None and req.service != self.service:
            return False
        if self.actions and req.operation not in self.actions:
            return False
        if any(req.params.get(k) != v for k, v in self.params.items()):
            return False
        if self.key_pattern is not None and not (req.key and re.search(self.key_pattern, req.key)):
            return False
        return self.limit is None or self.hits < self.limit


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    service: str
    protocol: Literal["query", "json", "rest"]
    operation: str
    params: Mapping[str, str]
    key: str | None  # S3 object key, when the request names one


def parse_request(method: str, target: str, headers: Mapping[str, str], body: bytes) -> Request:
    """What a test rule can match on, read from the request as botocore sends it."""
    split = urlsplit(target)
    auth = headers.get("authorization", "")
    query = {k: v[0] for k, v in parse_qs(split.query, keep_blank_values=True).items()}
    m = _SCOPE.search(auth) or _SCOPE.search("Credential=" + query.get("X-Amz-Credential", ""))
    service = m.group(1) if m else ""
    amz_target = headers.get("x-amz-target", "")
    if amz_target:
        return Request(method, split.path, service, "json", amz_target.rsplit(".", 1)[-1], {}, None)
    form = headers.get("content-type", "").startswith("application/x-www-form-urlencoded")
    if form or "Action" in query:
        params = dict(query)
        if form:
            params |= {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True).items()}
        return Request(method, split.path, service, "query", params.get("Action", ""), params, None)
    # S3, path style (botocore uses it for an IP endpoint): /bucket[/key]
    parts = split.path.lstrip("/").split("/", 1)
    key = unquote(parts[1]) if len(parts) == 2 and parts[1] else None
    if key is None:
        op = {"GET": "ListObjectsV2" if "list-type" in query else "ListObjects"}.get(method, method.title() + "Bucket")
    else:
        ops = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
        op = ops.get(method, method)
    return Request(method, split.path, service or "s3", "rest", op, query, key)


def fault_response(req: Request, rule: Rule) -> tuple[int, str, bytes]:
    """(status, content type, body) of the fault ``rule`` injects into ``req``, in its protocol's shape."""
    rid = str(uuid.uuid4())
    code, message, status = {
        "throttle": ("Throttling", "Rate exceeded", 400),
        "error": (
            "ServiceUnavailable" if rule.status == 503 else "InternalFailure",
            "injected server error",
            rule.status,
        ),
        "deny": (
            "AccessDenied",
            f"User: arn:aws:iam::123456789012:user/irkit-test is not authorized to perform: "
            f"{req.service}:{req.operation} (injected)",
            403,
        ),
        "vanish": ("NoSuchKey", "The specified key does not exist.", 404),
    }[rule.fault if rule.fault != "reset" else "error"]
    if req.protocol == "json":
        json_code = {"Throttling": "ThrottlingException", "AccessDenied": "AccessDeniedException"}.get(code, code)
        body = f'{{"__type": "{json_code}", "message": "{message}"}}'
        return (400 if status == 403 else status), "application/x-amz-json-1.1", body.encode()
    if req.protocol == "rest":
        if code == "Throttling":
            code, message, status = "SlowDown", "Please reduce your request rate.", 503
        key = f"<Key>{req.key}</Key>" if req.key and code == "NoSuchKey" else ""
        body = f"<Error><Code>{code}</Code><Message>{message}</Message>{key}<RequestId>{rid}</RequestId></Error>"
        return status, "application/xml", (b"" if req.method == "HEAD" else body.encode())
    ns = _QUERY_NS.get(req.service, f"https://{req.service}.amazonaws.com/")
    kind = "Sender" if status < 500 else "Receiver"
    body = (
        f'<ErrorResponse xmlns="{ns}"><Error><Type>{kind}</Type><Code>{code}</Code>'
        f"<Message>{message}</Message></Error><RequestId>{rid}</RequestId></ErrorResponse>"
    )
    return status, "text/xml", body.encode()


class FaultProxy:
    """A loopback reverse proxy to ``upstream`` that injects the faults its rules ask for."""

    def __init__(self, upstream: str, *, seed: int = 0) -> None:
        up = urlsplit(upstream)
        if up.hostname != "127.0.0.1" or up.port is None:
            raise ValueError(f"upstream must be http://127.0.0.1:PORT, got {upstream!r}")
        self.upstream = (up.hostname, up.port)
        self.rules: list[Rule] = []
        self.requests: Counter[str] = Counter()
        """``service:Operation`` → requests seen (faulted or not)."""
        self.injected: Counter[str] = Counter()
        """``fault service:Operation`` → faults injected."""
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="fault-proxy", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def add(self, rule: Rule) -> Rule:
        with self._lock:
            self.rules.append(rule)
        return rule

    def clear(self) -> None:
        with self._lock:
            self.rules.clear()

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)

    def __enter__(self) -> FaultProxy:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def decide(self, req: Request) -> Rule | None:
        """The rule that fires for ``req`` (the first matching one whose draw succeeds), counted."""
        name = f"{req.service}:{req.operation}"
        with self._lock:
            self.requests[name] += 1
            for rule in self.rules:
                if rule.matches(req) and self._rng.random() < rule.probability:
                    rule.hits += 1
                    self.injected[f"{rule.fault} {name}"] += 1
                    return rule
        return None

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _body(self) -> bytes:
                if self.headers.get("transfer-encoding", "").lower() == "chunked":
                    chunks, total = [], 0
                    for _ in range(MAX_BODY):  # bounded: one iteration a chunk
                        size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                        if size == 0:
                            self.rfile.readline()
                            break
                        total += size
                        if total > MAX_BODY:
                            raise ValueError("request body too large")
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                    return b"".join(chunks)
                length = int(self.headers.get("content-length") or 0)
                if length > MAX_BODY:
                    raise ValueError("request body too large")
                return self.rfile.read(length) if length else b""

            def _serve(self) -> None:
                body = self._body()
                headers = {k.lower(): v for k, v in self.headers.items()}
                req = parse_request(self.command, self.path, headers, body)
                rule = proxy.decide(req)
                if rule is not None and rule.fault == "reset":
                    # SO_LINGER 0: close() sends a RST, the client sees "connection reset by peer".
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.close_connection = True
                    self.connection.close()
                    return
                if rule is not None:
                    status, ctype, payload = fault_response(req, rule)
                    self._send(status, [("Content-Type", ctype)], payload)
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    fwd = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                    conn.request(self.command, self.path, body=body, headers=fwd)
                    resp = conn.getresponse()
                    payload = resp.read(MAX_BODY + 1)
                    if len(payload) > MAX_BODY:
                        raise ValueError("response body too large")
                    kept = [(k, v) for k, v in resp.getheaders() if k.lower() not in _HOP]
                    length = resp.getheader("content-length")
                    self._send(resp.status, kept, payload, head=self.command == "HEAD", length=length)
                finally:
                    conn.close()

            def _send(
                self,
                status: int,
                headers: list[tuple[str, str]],
                payload: bytes,
                *,
                head: bool = False,
                length: str | None = None,
            ) -> None:
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Length", length if head and length is not None else str(len(payload)))
                self.end_headers()
                if not head:
                    self.wfile.write(payload)

            def do_GET(self) -> None:
                self._serve()

            do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_GET

        return Handler


@pytest.fixture
def fault_proxy(aws_endpoint: str) -> Iterator[FaultProxy]:
    """A fault proxy in front of the test's (freshly reset) moto server; no rule until a test adds one."""
    with FaultProxy(aws_endpoint, seed=20261125) as proxy:
        yield proxy

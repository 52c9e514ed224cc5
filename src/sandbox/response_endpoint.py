"""A local HTTPS stand-in for CloudFormation's presigned ResponseURL.

CloudFormation hands each request a presigned S3 URL on its response bucket
(https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/...); the function PUTs its JSON
answer there, and CloudFormation reads it. The sandbox hands out URLs of that very shape, so a handler that
checks the URL's host needs no sandbox-only path, and routes them here: while the endpoint runs,
`socket.getaddrinfo` resolves the bucket's host name (port 443) to this server on 127.0.0.1, in this process
only. crhelper (and our handler) only speak HTTPS with certificate verification, so the endpoint serves a
certificate from a throwaway CA (trustme) and, while it runs, points SSL_CERT_FILE at that CA:
`ssl.create_default_context()`, which both use, loads its trust store from there.

Each URL carries a random X-Amz-Signature, like a real presigned URL: the signature is the secret that must
never reach a log, and `secrets()` lists every one handed out so tests can search logs for them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import ssl
import struct
import tempfile
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, quote, urlsplit

import trustme

MAX_BODY_BYTES = 4096
TOO_LONG_REASON = "Response object is too long."
_HTTPS_PORTS = (443, "443", "https")
_ACCESS_KEY = "AKIAIOSFODNN7EXAMPLE"


@dataclass(frozen=True)
class RecordedResponse:
    """One PUT that reached the endpoint."""

    request_id: str
    body: dict[str, Any] | str  # parsed JSON, or the raw text when it was not JSON
    size: int  # bytes on the wire
    received_at: float  # virtual time (time.time()) at arrival
    status: int | None  # what the endpoint answered; None when it hung up without answering
    outcome: str  # "accepted" | "too-long" | "injected-failure" | "hung"
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def accepted(self) -> bool:
        """Did CloudFormation take this response as the resource's result?"""
        return self.outcome == "accepted"

    @property
    def cloudformation_reason(self) -> str | None:
        """What CloudFormation would report if it refused the response."""
        return TOO_LONG_REASON if self.outcome == "too-long" else None

    def field(self, name: str) -> Any:
        return self.body.get(name) if isinstance(self.body, dict) else None


@dataclass
class _IssuedUrl:
    request_id: str
    url: str
    signature: str


class _Faults:
    """Counters for the misbehaviour tests ask for, consumed one request at a time."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.refuse = 0
        self.fail: list[int] = []
        self.hang: list[float] = []

    def take_refusal(self) -> bool:
        with self.lock:
            if self.refuse > 0:
                self.refuse -= 1
                return True
            return False

    def take_failure(self) -> int | None:
        with self.lock:
            return self.fail.pop(0) if self.fail else None

    def take_hang(self) -> float | None:
        with self.lock:
            return self.hang.pop(0) if self.hang else None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: ResponseEndpoint

    def get_request(self) -> tuple[Any, Any]:
        sock, address = self.socket.accept()
        if self.endpoint._faults.take_refusal():
            # RST right away: the client sees a reset connection, as with a dropped network path.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
            self.endpoint.refused_connections += 1
            raise OSError("connection refused by fault injection")
        # The TLS handshake happens lazily in the request thread, so one slow client cannot block accept().
        wrapped = self.endpoint._server_context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return wrapped, address

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that give up mid-request (timeouts, our own hang mode) are expected, not worth a traceback.
        self.endpoint.connection_errors += 1


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Silence the default stderr access log: it would print the secret query string."""

    def do_PUT(self) -> None:
        endpoint = self.server.endpoint
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        arrived = time.time()
        issued = endpoint._match(self.path)
        if issued is None:
            self._answer(403, _s3_error("SignatureDoesNotMatch", "The request signature we calculated does not match"))
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        body = _parse(raw)

        def record(status: int | None, outcome: str) -> None:
            endpoint._record(RecordedResponse(issued.request_id, body, len(raw), arrived, status, outcome, headers))

        hang = endpoint._faults.take_hang()
        if hang is not None:
            record(None, "hung")
            endpoint._stopping.wait(hang)  # real time, not the virtual clock; stop() cuts it short
            self.close_connection = True
            return
        failure = endpoint._faults.take_failure()
        if failure is not None:
            record(failure, "injected-failure")
            self._answer(failure, _s3_error("InternalError", "We encountered an internal error. Please try again."))
            return
        if len(raw) > MAX_BODY_BYTES:
            # S3 stores any size; it is CloudFormation that then refuses the object and fails the resource.
            record(endpoint.oversize_status, "too-long")
            self._answer(endpoint.oversize_status, b"")
            return
        record(200, "accepted")
        self._answer(200, b"")

    def do_GET(self) -> None:
        self._answer(405, _s3_error("MethodNotAllowed", "The specified method is not allowed"))

    do_POST = do_GET

    def _answer(self, status: int, payload: bytes) -> None:
        self.send_response(status)
        self.send_header("x-amz-request-id", secrets.token_hex(8).upper())
        if status == 200:
            self.send_header("ETag", f'"{secrets.token_hex(16)}"')
        if payload:
            self.send_header("Content-Type", "application/xml")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


def _s3_error(code: str, message: str) -> bytes:
    xml = f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message></Error>'
    return xml.encode()


def _parse(raw: bytes) -> dict[str, Any] | str:
    text = raw.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return parsed if isinstance(parsed, dict) else text


class ResponseEndpoint:
    """HTTPS server on 127.0.0.1 (random port) that records what the function sends CloudFormation.

    `oversize_status` is what the endpoint answers to a body over 4096 bytes: S3 takes the PUT (200), and
    CloudFormation later fails the resource with "Response object is too long."; the response is recorded with
    outcome "too-long" and never counts as accepted.
    """

    def __init__(self, *, region: str = "us-east-1", oversize_status: int = 200) -> None:
        self.oversize_status = oversize_status
        self.region = region
        bucket = "cloudformation-custom-resource-response-" + region.replace("-", "")
        self.host = f"{bucket}.s3.amazonaws.com" if region == "us-east-1" else f"{bucket}.s3.{region}.amazonaws.com"
        self._real_getaddrinfo: Any = None
        self.responses: list[RecordedResponse] = []
        self.refused_connections = 0
        self.connection_errors = 0
        self._issued: dict[str, _IssuedUrl] = {}
        self._lock = threading.Lock()
        self._faults = _Faults()
        self._tempdir: str | None = None
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._previous_cert_file: str | None = None
        self.ca_file = ""
        self._server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._stopping = threading.Event()

    # -- lifecycle -------------------------------------------------------------------------------------
    def start(self) -> ResponseEndpoint:
        self._stopping.clear()
        authority = trustme.CA()
        authority.issue_cert(self.host, "127.0.0.1", "localhost").configure_cert(self._server_context)
        self._tempdir = tempfile.mkdtemp(prefix="sandbox-ca-")
        self.ca_file = os.path.join(self._tempdir, "ca.pem")
        authority.cert_pem.write_to_path(self.ca_file)
        server = _Server(("127.0.0.1", 0), _Handler)
        server.endpoint = self
        self._server = server
        self._thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        # The handler and crhelper build their TLS context with ssl.create_default_context(), which reads the
        # trust store named by SSL_CERT_FILE: pointing it at our CA makes them trust this endpoint and nothing
        # else, without any sandbox-only code path in the handler.
        self._previous_cert_file = os.environ.get("SSL_CERT_FILE")
        os.environ["SSL_CERT_FILE"] = self.ca_file
        self._route_bucket_host_here()
        return self

    def _route_bucket_host_here(self) -> None:
        real = socket.getaddrinfo
        host, port = self.host, self.port

        def getaddrinfo(name: Any, service: Any, *args: Any, **kwargs: Any) -> Any:
            if isinstance(name, str) and name.lower() == host and service in _HTTPS_PORTS:
                return real("127.0.0.1", port, *args, **kwargs)
            return real(name, service, *args, **kwargs)

        self._real_getaddrinfo = real
        socket.getaddrinfo = getaddrinfo  # type: ignore[assignment]

    def stop(self) -> None:
        self._stopping.set()
        if self._real_getaddrinfo is not None:
            socket.getaddrinfo = self._real_getaddrinfo
            self._real_getaddrinfo = None
        if self._previous_cert_file is None:
            os.environ.pop("SSL_CERT_FILE", None)
        else:
            os.environ["SSL_CERT_FILE"] = self._previous_cert_file
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._tempdir is not None:
            shutil.rmtree(self._tempdir, ignore_errors=True)
        self._server = None
        self._thread = None
        self._tempdir = None

    def __enter__(self) -> ResponseEndpoint:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("endpoint not started")
        return int(self._server.server_address[1])

    # -- URLs ------------------------------------------------------------------------------------------
    def url_for(self, request_id: str, *, stack_id: str = "", logical_id: str = "") -> str:
        """A fresh presigned-looking URL for one request; each call makes a new signature."""
        signature = secrets.token_hex(32)
        key = "|".join(part for part in (stack_id, logical_id, request_id) if part)
        date = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        query = (
            "X-Amz-Algorithm=AWS4-HMAC-SHA256"
            f"&X-Amz-Date={date}"
            "&X-Amz-SignedHeaders=host&X-Amz-Expires=7200"
            f"&X-Amz-Credential={_ACCESS_KEY}%2F{date[:8]}%2Fus-east-1%2Fs3%2Faws4_request"
            f"&X-Amz-Signature={signature}"
        )
        url = f"https://{self.host}/{quote(key, safe='/')}?{query}"
        with self._lock:
            self._issued[signature] = _IssuedUrl(request_id, url, signature)
        return url

    def secrets(self) -> list[str]:
        """Every URL and signature handed out: none of them may appear in any log."""
        with self._lock:
            return [value for issued in self._issued.values() for value in (issued.url, issued.signature)]

    def _match(self, path: str) -> _IssuedUrl | None:
        signature = parse_qs(urlsplit(path).query).get("X-Amz-Signature", [""])[0]
        with self._lock:
            issued = self._issued.get(signature)
        if issued is None or urlsplit(issued.url).path != urlsplit(path).path:
            return None
        return issued

    # -- recording -------------------------------------------------------------------------------------
    def _record(self, response: RecordedResponse) -> None:
        with self._lock:
            self.responses.append(response)

    def all_for(self, request_id: str) -> list[RecordedResponse]:
        with self._lock:
            return [response for response in self.responses if response.request_id == request_id]

    def response_for(self, request_id: str, *, allow_duplicates: bool = False) -> RecordedResponse | None:
        """The response CloudFormation acts on: the first accepted one (None if none was accepted).

        Unless `allow_duplicates`, more than one PUT for the request is an assertion failure: CloudFormation
        only reads one, so a second one is at best ignored and at worst overwrites the first.
        """
        found = self.all_for(request_id)
        if not allow_duplicates and len(found) > 1:
            raise AssertionError(f"{len(found)} responses for request {request_id}: {[r.outcome for r in found]}")
        accepted = [response for response in found if response.accepted]
        return accepted[0] if accepted else None

    # -- faults ----------------------------------------------------------------------------------------
    def fail_next(self, count: int, status: int = 500) -> None:
        """Answer the next `count` PUTs with `status` (and an S3 error body) instead of storing them."""
        with self._faults.lock:
            self._faults.fail.extend([status] * count)

    def refuse_connections(self, count: int) -> None:
        """Reset the next `count` connections before the TLS handshake."""
        with self._faults.lock:
            self._faults.refuse += count

    def hang_next(self, count: int, seconds: float = 2.0) -> None:
        """Read the next `count` PUTs but never answer: hold the connection `seconds` of real time, then close.

        A client with a shorter (real) socket timeout sees a timeout; one without a timeout, like crhelper's,
        sees the connection closed. The bound keeps any test from hanging.
        """
        with self._faults.lock:
            self._faults.hang.extend([seconds] * count)

"""The local ResponseURL: HTTPS that crhelper trusts, one URL per request, recording, limits and faults."""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from crhelper.utils import _send_response

from sandbox.clock import VirtualClock
from sandbox.response_endpoint import MAX_BODY_BYTES, ResponseEndpoint


@pytest.fixture
def clock() -> Iterator[VirtualClock]:
    with VirtualClock() as running:
        yield running


@pytest.fixture
def endpoint(clock: VirtualClock) -> Iterator[ResponseEndpoint]:
    with ResponseEndpoint() as running:
        yield running


def _put(url: str, body: bytes, *, timeout: float | None = None) -> int:
    """A PUT the way the handler sends it: the default SSL context, nothing sandbox-specific."""
    parts = urlsplit(url)
    connection = http.client.HTTPSConnection(parts.netloc, context=ssl.create_default_context(), timeout=timeout)
    try:
        connection.request("PUT", f"{parts.path}?{parts.query}", body=body, headers={"content-type": ""})
        return connection.getresponse().status
    finally:
        connection.close()


def _body(request_id: str, status: str = "SUCCESS", **extra: object) -> bytes:
    return json.dumps({"Status": status, "RequestId": request_id, "PhysicalResourceId": "p", **extra}).encode()


def test_the_default_ssl_context_trusts_the_endpoint_only_while_it_runs(clock: VirtualClock) -> None:
    before = os.environ.get("SSL_CERT_FILE")
    with ResponseEndpoint() as endpoint:
        assert os.environ["SSL_CERT_FILE"] == endpoint.ca_file
        assert _put(endpoint.url_for("r1"), _body("r1")) == 200
        ca_file = endpoint.ca_file
    assert os.environ.get("SSL_CERT_FILE") == before
    assert not os.path.exists(ca_file)


def test_an_unverified_peer_is_rejected(endpoint: ResponseEndpoint) -> None:
    url = urlsplit(endpoint.url_for("r1"))
    strict = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)  # verifies, but trusts another CA only
    strict.load_verify_locations(cadata=_unrelated_ca_pem())
    connection = http.client.HTTPSConnection(url.netloc, context=strict, timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        connection.request("PUT", url.path, body=b"{}")
    assert endpoint.responses == []


def _unrelated_ca_pem() -> str:
    import trustme

    return trustme.CA().cert_pem.bytes().decode()


def test_crhelper_delivers_a_response_that_is_recorded_with_virtual_time(
    endpoint: ResponseEndpoint, clock: VirtualClock
) -> None:
    clock.advance(42)
    body = {"Status": "SUCCESS", "RequestId": "r1", "PhysicalResourceId": "replacevol-1", "Data": {"A": "1"}}
    _send_response(endpoint.url_for("r1"), body)
    response = endpoint.response_for("r1")
    assert response is not None
    assert response.body == body
    assert response.size == len(json.dumps(body).encode())
    assert response.received_at == clock.now()
    assert (response.status, response.outcome) == (200, "accepted")


def test_every_url_is_unique_and_looks_presigned(endpoint: ResponseEndpoint) -> None:
    first, second = endpoint.url_for("r1"), endpoint.url_for("r2", stack_id="arn:stack/s/1", logical_id="Res")
    assert first != second
    for url in (first, second):
        parts = urlsplit(url)
        assert parts.scheme == "https"
        query = parse_qs(parts.query)
        assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]
        assert query["X-Amz-Credential"][0].endswith("/us-east-1/s3/aws4_request")
        assert len(query["X-Amz-Signature"][0]) == 64
        assert url in endpoint.secrets()
        assert query["X-Amz-Signature"][0] in endpoint.secrets()
    assert "Res" in urlsplit(second).path


def test_a_url_with_a_wrong_signature_is_refused_like_s3(endpoint: ResponseEndpoint) -> None:
    url = endpoint.url_for("r1")
    tampered = url[:-4] + "0000"
    assert _put(tampered, _body("r1")) == 403
    assert endpoint.all_for("r1") == []


def test_a_body_over_4096_bytes_is_taken_by_s3_but_refused_by_cloudformation(endpoint: ResponseEndpoint) -> None:
    padding = MAX_BODY_BYTES  # more than enough to push the body over the limit
    assert _put(endpoint.url_for("big"), _body("big", Reason="x" * padding)) == 200
    (recorded,) = endpoint.all_for("big")
    assert recorded.size > MAX_BODY_BYTES
    assert recorded.outcome == "too-long"
    assert not recorded.accepted
    assert recorded.cloudformation_reason == "Response object is too long."
    assert endpoint.response_for("big") is None


def test_a_body_of_exactly_4096_bytes_is_accepted(endpoint: ResponseEndpoint) -> None:
    body = _body("fits", Reason="")
    body = _body("fits", Reason="x" * (MAX_BODY_BYTES - len(body)))
    assert len(body) == MAX_BODY_BYTES
    _put(endpoint.url_for("fits"), body)
    assert endpoint.response_for("fits") is not None


def test_the_oversize_answer_can_be_made_an_error(clock: VirtualClock) -> None:
    with ResponseEndpoint(oversize_status=400) as endpoint:
        assert _put(endpoint.url_for("big"), b"{" + b" " * MAX_BODY_BYTES + b"}") == 400


def test_a_non_json_body_is_kept_as_text(endpoint: ResponseEndpoint) -> None:
    _put(endpoint.url_for("r1"), b"not json")
    assert endpoint.all_for("r1")[0].body == "not json"


def test_duplicates_are_an_assertion_failure_unless_expected(endpoint: ResponseEndpoint) -> None:
    url = endpoint.url_for("r1")
    _put(url, _body("r1", "SUCCESS"))
    _put(url, _body("r1", "FAILED"))
    with pytest.raises(AssertionError, match="2 responses"):
        endpoint.response_for("r1")
    first = endpoint.response_for("r1", allow_duplicates=True)
    assert first is not None
    assert first.field("Status") == "SUCCESS"
    assert [r.field("Status") for r in endpoint.all_for("r1")] == ["SUCCESS", "FAILED"]


# -- faults --------------------------------------------------------------------------------------------------
def test_fail_next_answers_with_the_given_status_then_recovers(endpoint: ResponseEndpoint) -> None:
    endpoint.fail_next(2, status=503)
    url = endpoint.url_for("r1")
    assert [_put(url, _body("r1")) for _ in range(3)] == [503, 503, 200]
    assert [r.outcome for r in endpoint.all_for("r1")] == ["injected-failure", "injected-failure", "accepted"]
    assert endpoint.response_for("r1", allow_duplicates=True) is endpoint.all_for("r1")[2]


def test_crhelper_counts_an_http_error_as_delivered(endpoint: ResponseEndpoint) -> None:
    endpoint.fail_next(1, status=500)
    _send_response(endpoint.url_for("r1"), {"Status": "SUCCESS"})
    assert [r.status for r in endpoint.all_for("r1")] == [500]  # crhelper does not retry: the answer is lost
    assert endpoint.response_for("r1") is None


def test_refused_connections_make_crhelper_retry_in_virtual_time(
    endpoint: ResponseEndpoint, clock: VirtualClock
) -> None:
    endpoint.refuse_connections(2)
    start = clock.now()
    _send_response(endpoint.url_for("r1"), {"Status": "SUCCESS"})
    assert endpoint.refused_connections == 2
    assert clock.now() - start == 4  # crhelper sleeps 2 s after each failure
    assert endpoint.response_for("r1") is not None


def test_a_hung_request_times_out_a_client_with_a_timeout(endpoint: ResponseEndpoint) -> None:
    endpoint.hang_next(1, seconds=1.0)
    with pytest.raises(TimeoutError):
        _put(endpoint.url_for("r1"), _body("r1"), timeout=0.2)
    (recorded,) = endpoint.all_for("r1")
    assert (recorded.status, recorded.outcome) == (None, "hung")
    assert endpoint.response_for("r1") is None


def test_a_hung_request_is_closed_for_a_client_without_a_timeout(endpoint: ResponseEndpoint) -> None:
    endpoint.hang_next(1, seconds=0.2)
    with pytest.raises(http.client.RemoteDisconnected):
        _put(endpoint.url_for("r1"), _body("r1"))
    assert _put(endpoint.url_for("r1"), _body("r1")) == 200  # the next one goes through


def test_urls_name_cloudformations_s3_bucket_which_resolves_here_only_while_running(clock: VirtualClock) -> None:
    real = socket.getaddrinfo
    with ResponseEndpoint() as endpoint:
        url = urlsplit(endpoint.url_for("r1", stack_id="arn:aws:cloudformation:us-east-1:1:stack/s/u", logical_id="R"))
        assert url.netloc == "cloudformation-custom-resource-response-useast1.s3.amazonaws.com"  # no port: 443
        assert url.path == "/arn%3Aaws%3Acloudformation%3Aus-east-1%3A1%3Astack/s/u%7CR%7Cr1"
        resolved = socket.getaddrinfo(url.hostname, 443, 0, socket.SOCK_STREAM)
        assert {info[4] for info in resolved} == {("127.0.0.1", endpoint.port)}
        assert socket.getaddrinfo("localhost", 443, 0, socket.SOCK_STREAM) == real(
            "localhost", 443, 0, socket.SOCK_STREAM
        )
    assert socket.getaddrinfo is real


def test_other_regions_use_their_regional_bucket(clock: VirtualClock) -> None:
    with ResponseEndpoint(region="eu-west-1") as endpoint:
        host = urlsplit(endpoint.url_for("r1")).hostname
        assert host == "cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com"
        assert _put(endpoint.url_for("r2"), _body("r2")) == 200

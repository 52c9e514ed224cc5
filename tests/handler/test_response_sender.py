"""The response body and URL rules (delivery itself is tested through the sandbox's endpoint)."""

from __future__ import annotations

import json

import pytest

from root_volume_replacement.response_sender import ResponseUrlRejected, check_url, fit


def body(reason="", data=None):
    return {
        "Status": "FAILED",
        "Reason": reason,
        "PhysicalResourceId": "replacevol-0123456789abcdef0",
        "StackId": "arn:aws:cloudformation:us-east-1:123456789012:stack/s/" + "0" * 36,
        "RequestId": "r" * 36,
        "LogicalResourceId": "L" * 255,
        "NoEcho": False,
        "Data": data or {},
    }


def test_long_reason_keeps_its_beginning():
    reason = "EC2 CreateReplaceRootVolumeTask failed: InvalidParameterValue: " + "x" * 5000
    sent = json.loads(fit(body(reason)))
    assert sent["Reason"].startswith("EC2 CreateReplaceRootVolumeTask failed: InvalidParameterValue")
    assert sent["Reason"].endswith("[truncated]")


def test_every_body_fits_4096_bytes_even_with_large_data():
    data = {f"Attr{i}": "v" * 300 for i in range(20)}
    encoded = fit(body("é" * 3000, data))
    assert len(encoded) <= 4096
    assert json.loads(encoded)["Reason"].startswith("é")


def test_small_body_is_unchanged():
    original = body("short", {"TaskId": "replacevol-1"})
    assert json.loads(fit(original)) == original


@pytest.mark.parametrize(
    "url",
    [
        "https://cloudformation-custom-resource-response-useast1.s3.amazonaws.com/a?X-Amz-Signature=1",
        "https://cloudformation-custom-resource-response-euwest1.s3.eu-west-1.amazonaws.com/a",
        "https://s3.cn-north-1.amazonaws.com.cn/bucket/key",
    ],
)
def test_s3_urls_are_accepted(url):
    host, path = check_url(url)
    assert host.endswith((".amazonaws.com", ".amazonaws.com.cn")) and path.startswith("/")


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://bucket.s3.amazonaws.com/k?X-Amz-Signature=secret", "must use https"),
        ("https://evil.example.com/k?X-Amz-Signature=secret", "not an Amazon S3 endpoint"),
        ("https://s3.amazonaws.com.evil.example/k", "not an Amazon S3 endpoint"),
        ("file:///etc/passwd", "must use https"),
    ],
)
def test_other_urls_are_refused_without_repeating_them(url, why, monkeypatch):
    monkeypatch.delenv("RESPONSE_URL_ALLOWED_HOSTS", raising=False)
    with pytest.raises(ResponseUrlRejected) as refused:
        check_url(url)
    assert why in str(refused.value)
    assert "secret" not in str(refused.value) and url not in str(refused.value)


def test_extra_hosts_come_only_from_the_environment(monkeypatch):
    monkeypatch.setenv("RESPONSE_URL_ALLOWED_HOSTS", "127.0.0.1")
    assert check_url("https://127.0.0.1:8443/r?sig=1")[0] == "127.0.0.1:8443"

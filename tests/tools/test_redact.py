"""Secrets are redacted; ordinary text is left alone."""

from __future__ import annotations

import pytest

from tools.redact import redact


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("login with password=hunter2 failed", "hunter2"),
        ('{"password": "s3cr3t-value"}', "s3cr3t-value"),
        ("key AKIAIOSFODNN7EXAMPLE used", "AKIAIOSFODNN7EXAMPLE"),
        ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"),
        ("Authorization: Bearer abcdef1234567890abcdef", "abcdef1234567890abcdef"),
        ("db postgres://app:Sup3rS3cret@db.internal:5432/x", "Sup3rS3cret"),
        ("token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N", "dozjg"),
        ("slack xoxb-123456789012-abcdefghijkl", "xoxb-1234"),
        ("-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----", "MIIEow"),
        ("api_key: 9f8e7d6c5b4a", "9f8e7d6c5b4a"),
        ("statement: ALTER USER \"app\" WITH PASSWORD 'n3wS3cret!'", "n3wS3cret"),
        ("CREATE ROLE x ENCRYPTED PASSWORD 'md5abc123'", "md5abc123"),
    ],
)
def test_secrets_are_redacted(text: str, secret: str) -> None:
    out = redact(text)
    assert secret not in out
    assert "[REDACTED:" in out


def test_plain_text_unchanged() -> None:
    text = "GET /v1/vehicles/WBA123/unlock 504 in 3012 ms; tokens=5 sg-0a1b2c3d"
    assert redact(text) == text

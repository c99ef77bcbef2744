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


# The 16 secret kinds of the robustness issue, in the spellings real systems use.
SECRETS_16 = [
    ("AKIAIOSFODNN7EXAMPLE", "access key AKIAIOSFODNN7EXAMPLE"),
    ("wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", '{"secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}'),
    ("SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV", "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV"),
    ("pa55word", "DATABASE_URL=postgresql://admin:pa55word@db.example.com:5432/app"),
    ("Zx9!kLm2", "Server=tcp:db.example.com;Database=app;User Id=sa;Password=Zx9!kLm2;"),
    ("hunter22", "DB_PASSWORD=hunter22 starting"),
    ("Mast3rPw!", '{"masterUserPassword": "Mast3rPw!", "engine": "aurora"}'),
    ("MIIEowIBAAKCAQEA", "-----BEGIN PRIVATE KEY-----\nMIIEowIBAAKCAQEA\n-----END PRIVATE KEY-----"),
    ("xoxb-1234567890-0987654321-AbCdEfGhIjKl", "token xoxb-1234567890-0987654321-AbCdEfGhIjKl"),
    ("T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX", "posting to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"),
    ("ghp_16C7e42F292c6912E7710c838347Ae178B4a", "git clone with ghp_16C7e42F292c6912E7710c838347Ae178B4a"),
    ("github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ", "GH github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ"),
    ("dXNlcjpzM2NyZXQ=", "Authorization: Basic dXNlcjpzM2NyZXQ="),
    ("a1b2c3d4e5f6g7h8", "x-api-key: a1b2c3d4e5f6g7h8"),
    ("4eC39HqLyjWDarjtT1zdp7dc", "charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ("s3cr3t value", 'clientSecret: "s3cr3t value"'),
]


@pytest.mark.parametrize(("secret", "text"), SECRETS_16)
def test_sixteen_kinds_redacted(secret: str, text: str) -> None:
    out = redact(text)
    assert secret not in out, out
    assert "[REDACTED:" in out
    assert redact(out) == out  # idempotent


@pytest.mark.parametrize(
    "text",
    [
        "Timeout after 3000 ms calling remote-vehicle-api",
        "RevokeSecurityGroupIngress on sg-0123456789abcdef0 by arn:aws:iam::111122223333:role/ops",
        "the passwords policy requires rotation every 90 days",
        "MFA: Required for all DR execution operations",
        "token bucket refill rate=50/s",
    ],
)
def test_ordinary_text_unchanged(text: str) -> None:
    assert redact(text) == text


def test_evidence_boundary_redacts_every_quoted_field() -> None:
    from tools.models import Evidence

    ev = Evidence(
        id="E1",
        tool="changes",
        kind="change",
        summary="AuthorizeSecurityGroupIngress by AKIAIOSFODNN7EXAMPLE",
        searched="lookup with x-api-key: a1b2c3d4e5f6g7h8",
        samples=["DB_PASSWORD=hunter22"],
        labels={"actor": "arn:aws:sts::1:assumed-role/x token=abcdef123456"},
    )
    dumped = ev.model_dump_json()
    for secret in ("AKIAIOSFODNN7EXAMPLE", "a1b2c3d4e5f6g7h8", "hunter22", "abcdef123456"):
        assert secret not in dumped


def _every_rule(text: str) -> str:
    """The redactor without its hints: every rule's regex runs on the whole text."""
    import functools

    from tools import redact as module

    for kind, pattern in module._RULES:
        text = pattern.sub(functools.partial(module._replace, kind), text)
    return text


@pytest.mark.parametrize(
    "text",
    [
        *(text for _secret, text in SECRETS_16),
        "PASSWORD=Hunter22 and BEARER abcdefghijklmnop1234",
        "Api-Key=abcdef123456; TOKEN: 'zzzz9999'",
        "Secret_Access_Key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "\u212aey=abcdef123456 (Kelvin sign K) and pa\u017f\u017fword=hunter22 (long s)",
        "\u00e9chec: password=caf\u00e9-s3cret b\u0131asic ZGVhZGJlZWY=",
        "plain ascii line without any credential words 12345",
        "x" * 5000 + " password=abc123 " + "y" * 5000,
        "Completed POST /reset-password status=200 in 18 ms",
        "reset-password token \"abc\" and 'secret' : 's3cr3t-value' x-api-key => abcdef12",
        "client_secret\t=\tabcdef123 and passwd:'qwerty12'",
    ],
)
def test_hints_skip_only_rules_that_cannot_match(text: str) -> None:
    # the hints are a speed-up only: the output equals running every rule
    assert redact(text) == _every_rule(text)

"""Redaction of secrets in evidence before it reaches a model, a report or Slack.

The patterns follow the rule sets of gitleaks and Yelp's detect-secrets for the secret kinds that
show up in application logs and CloudTrail records: AWS access key ids and secret keys, bearer
tokens and JWTs, private key blocks, passwords in ``key=value`` / JSON pairs, credentials in URLs,
Slack tokens and generic API keys. A redacted value becomes ``[REDACTED:<kind>]`` so a reader
still sees that a secret was there.
"""

from __future__ import annotations

import functools
import re

_KEYWORDS = (
    r"password|passwd|pwd|secret|secret_?key|api_?key|apikey|access_?token|auth_?token|token|"
    r"client_?secret|private_?key|credentials?|session_?token"
)

_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
    ),
    (
        "aws-access-key-id",
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[0-9A-Z]{16}\b"),
    ),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("slack-token", re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}")),
    ("bearer", re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{12,}")),
    ("url-credentials", re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(@)")),
    (
        "aws-secret-access-key",
        re.compile(r"(?i)(aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{40}"),
    ),
    ("sql-password", re.compile(r"(?i)(\b(?:with\s+)?(?:encrypted\s+)?password\s+)'[^']*'")),
    (
        "keyword",
        re.compile(rf"(?i)([\"']?\b(?:{_KEYWORDS})\b[\"']?\s*[:=]\s*[\"']?)([^\s\"',;&}}]{{3,}})"),
    ),
]


def redact(text: str) -> str:
    """Return ``text`` with every secret replaced by ``[REDACTED:<kind>]``.

    Prefixes that name the secret (``password=``, ``Bearer ``, ``https://user:``) are kept.
    """
    for kind, pattern in _RULES:
        text = pattern.sub(functools.partial(_replace, kind), text)
    return text


def _replace(kind: str, match: re.Match[str]) -> str:
    marker = f"[REDACTED:{kind}]"
    if match.re.groups == 0:
        return marker
    if kind == "url-credentials":
        return match.group(1) + marker + match.group(2)
    if kind == "keyword" and match.group(2).startswith("[REDACTED"):
        return match.group(0)  # already redacted by a more specific rule
    return match.group(1) + marker

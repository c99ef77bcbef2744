"""Redaction of secrets before text reaches a model, a report, a store, Slack or the WA Tool.

The patterns follow the rule sets of gitleaks (``config/gitleaks.toml``) and Yelp's
detect-secrets for the secret kinds that show up in application logs, CloudTrail records,
workspace descriptions and design documents:

- AWS access key ids (``AKIA``/``ASIA``/... + 16 characters) and secret access keys (40
  characters after ``aws_secret_access_key``, ``secretAccessKey``, ``SecretAccessKey``);
- JWTs, ``Bearer`` and ``Basic`` authorization values, ``x-api-key`` style headers;
- private key blocks (PEM);
- credentials in URLs (``postgres://user:pass@host``) and in connection strings
  (``Password=...;``);
- passwords and tokens in ``key=value`` / JSON / YAML pairs, whatever the key's prefix or case
  (``DB_PASSWORD=``, ``masterUserPassword``, ``"clientSecret":``);
- Slack tokens (``xoxb-``, ``xoxp-``, ``xapp-``) and incoming-webhook URLs;
- GitHub tokens (``ghp_``, ``gho_``, ``ghs_``, ``ghu_``, ``ghr_``, ``github_pat_``);
- Stripe-style live keys (``sk_live_``, ``rk_live_``);
- SQL ``PASSWORD '...'`` literals.

A redacted value becomes ``[REDACTED:<kind>]`` so a reader still sees that a secret was there.
Apply :func:`redact` to raw text, before template mining masks digits or a quote is cut.
"""

from __future__ import annotations

import functools
import re
from typing import Any

# Key names that mark the value after ``=``/``:`` as a credential. They may carry any prefix
# (``DB_PASSWORD``, ``masterUserPassword``, ``x-api-key``): the match is on the key's tail.
_KEYWORDS = (
    r"password|passwd|passphrase|pwd|secret|secret[_-]?key|api[_-]?key|apikey|access[_-]?token|"
    r"auth[_-]?token|refresh[_-]?token|token|client[_-]?secret|private[_-]?key|credentials?|"
    r"session[_-]?token|signing[_-]?key|webhook[_-]?url"
)
_KEY = rf"[\"']?[A-Za-z0-9_.-]*?(?:{_KEYWORDS})[\"']?"
# A value is a quoted string or a run of characters up to a delimiter.
_VALUE = r"(?:\"[^\"\n]{3,}\"|'[^'\n]{3,}'|[^\s\"',;&}<>]{3,})"

_RULES: list[tuple[str, re.Pattern[str]]] = [
    (
        "private-key",
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
    ),
    (
        "aws-access-key-id",
        re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[0-9A-Z]{16}\b"),
    ),
    ("jwt", re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}")),
    ("slack-webhook", re.compile(r"https://hooks\.slack\.com/(?:services|workflows)/[A-Za-z0-9/_-]+")),
    ("slack-token", re.compile(r"\bx(?:ox[abposre]|app)-[A-Za-z0-9-]{10,}")),
    ("github-token", re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{40,})")),
    ("stripe-key", re.compile(r"\b[sr]k_live_[A-Za-z0-9]{16,}")),
    ("bearer", re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]{12,}")),
    ("basic-auth", re.compile(r"(?i)(\bbasic\s+)[A-Za-z0-9+/]{8,}={0,2}")),
    ("url-credentials", re.compile(r"(?i)(\b[a-z][a-z0-9+.-]*://[^/\s:@]+:)[^@\s/]+(@)")),
    (
        "aws-secret-access-key",
        re.compile(
            r"(?i)(aws_?secret_?access_?key[\"']?\s*[:=]\s*[\"']?|secret_?access_?key[\"']?\s*[:=]"
            r"\s*[\"']?)[A-Za-z0-9/+=]{40}"
        ),
    ),
    ("sql-password", re.compile(r"(?i)(\b(?:with\s+)?(?:encrypted\s+)?password\s+)'[^']*'")),
    ("keyword", re.compile(rf"(?i)(\b{_KEY}\s*(?::|=|=>)\s*)({_VALUE})")),
]


# Text every match of a rule contains (a necessary condition, found much faster than a match):
# a rule whose hint is absent cannot match, so it is skipped. The rules written (?i) have their
# hints as lower-case words, looked up in the lower-cased text when it is ASCII (for ASCII text
# that is exactly what (?i) matches); other text is searched with the regex hint.
_HINTS: dict[str, re.Pattern[str]] = {
    "private-key": re.compile(r"-----BEGIN "),
    "aws-access-key-id": re.compile(r"A(?:KIA|SIA|GPA|IDA|ROA|NPA|NVA|IPA|BIA|CCA)"),
    "jwt": re.compile(r"eyJ"),
    "slack-webhook": re.compile(r"https://hooks\.slack\.com/"),
    "slack-token": re.compile(r"x(?:ox[abposre]|app)-"),
    "github-token": re.compile(r"gh[pousr]_|github_pat_"),
    "stripe-key": re.compile(r"k_live_"),
    "bearer": re.compile(r"(?i)bearer"),
    "basic-auth": re.compile(r"(?i)basic"),
    "url-credentials": re.compile(r"://"),
    "aws-secret-access-key": re.compile(r"(?i)secret"),
    "sql-password": re.compile(r"(?i)password"),
    "keyword": re.compile(r"(?i)pass|pwd|secret|key|token|credential|webhook"),
}
_WORDS: dict[str, tuple[str, ...]] = {
    "bearer": ("bearer",),
    "basic-auth": ("basic",),
    "aws-secret-access-key": ("secret",),
    "sql-password": ("password",),
    "keyword": ("pass", "pwd", "secret", "key", "token", "credential", "webhook"),
}
# A second, tighter necessary condition for a rule whose hint words are common in logs
# (``reset-password``, ``tokenizer``): every match of the keyword rule holds a key word followed
# by ``:`` or ``=`` (after an optional quote and blanks); where none is, the rule's far slower
# regex (a lazy key prefix tried at every word start) is not run. The output is unchanged.
_GUARDS: dict[str, re.Pattern[str]] = {
    "keyword": re.compile(rf"(?i)(?:{_KEYWORDS})[\"']?\s*(?::|=)"),
}
# the hints of every rule without words at once: when it finds nothing, none of them can match
_LITERAL_HINTS = re.compile(
    "|".join(f"(?:{_HINTS[kind].pattern})" for kind, _ in _RULES if kind not in _WORDS)
)


def redact(text: str) -> str:
    """Return ``text`` with every secret replaced by ``[REDACTED:<kind>]``.

    Prefixes that name the secret (``password=``, ``Bearer ``, ``https://user:``) are kept; a
    quoted value keeps its quotes. Idempotent: redacting twice gives the same text.
    """
    if not text:
        return text
    lower = text.lower() if text.isascii() else None
    literal = _LITERAL_HINTS.search(text) is not None
    for kind, pattern in _RULES:
        words = _WORDS.get(kind)
        if words is not None and lower is not None:
            if not any(word in lower for word in words):
                continue
        elif (words is None and not literal) or _HINTS[kind].search(text) is None:
            continue
        guard = _GUARDS.get(kind)
        if guard is not None and guard.search(text) is None:
            continue
        replaced = pattern.sub(functools.partial(_replace, kind), text)
        if replaced != text:
            text = replaced
            lower = text.lower() if text.isascii() else None
            literal = _LITERAL_HINTS.search(text) is not None
    return text


# A JSON key whose value is a credential whatever the value looks like (CloudTrail
# ``requestParameters``, alarm dimensions, captured records).
SECRET_KEY = re.compile(
    r"(?i)password|passwd|secret|token|credential|private_?key|api_?key|authorization"
)
# ... unless the key names something about the credential rather than the credential itself
# (``secretId``, ``SecretArn``, ``tokenType``, ``passwordLastUsed``): those values stay readable.
_NOT_A_SECRET_KEY = re.compile(
    r"(?i)(?:id|ids|arn|arns|name|names|type|ttl|expir\w*|count|length|version|lastused|"
    r"date|time|policy|rotation\w*|enabled|required)$"
)


def redact_value(value: Any, key: str = "") -> Any:
    """A copy of a JSON-like value (dicts, lists, strings, numbers) with every string passed
    through :func:`redact`, and every non-empty string under a secret-named key (``SECRET_KEY``)
    replaced by ``[REDACTED:keyword]``. Dict keys are redacted too (a metric dimension or a
    JSON key can carry a secret). Numbers, booleans and ``None`` are returned as they are."""
    if isinstance(value, dict):
        return {redact(str(k)): redact_value(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [redact_value(v, key) for v in value]
    if isinstance(value, str):
        if (
            key
            and value
            and SECRET_KEY.search(key)
            and not _NOT_A_SECRET_KEY.search(key)
            and "[REDACTED" not in value
        ):
            return "[REDACTED:keyword]"
        return redact(value)
    return value


def _replace(kind: str, match: re.Match[str]) -> str:
    marker = f"[REDACTED:{kind}]"
    if match.re.groups == 0:
        return marker
    if kind == "url-credentials":
        return match.group(1) + marker + match.group(2)
    if kind == "keyword":
        value = match.group(2)
        if "[REDACTED" in value:
            return match.group(0)  # already redacted by a more specific rule
        if value[0] in "\"'":
            return match.group(1) + value[0] + marker + value[0]
    return match.group(1) + marker

"""The level of a raw log line, in the common formats of the workloads the tools read.

No well-kept Python library reads the level of an arbitrary log line (log shippers do it with
per-format grok patterns), so this is a small parser for the formats an AWS workload writes,
each documented by its producer:

- **JSON** (Lambda's JSON log format ``{"level": "ERROR", ...}``, Powertools, structlog, pino,
  Bunyan, ECS ``log.level``, GCP/OpenTelemetry ``severity``/``severityText``): the first of
  :data:`JSON_KEYS` present; pino/Bunyan numeric levels (10 trace ... 60 fatal) too.
- **Bracketed** (Lambda Python runtime ``[ERROR]\t2026-...\t<request id>\t...``, many Java
  patterns ``[WARN]``) and **bare** level words (Spring Boot / logback
  ``2026-03-02T10:00:00.000Z  WARN 1 --- [main] c.e.App : ...``, log4j's
  ``2026-03-02 10:00:00,123 ERROR [main] com.example.App - ...``, Lambda Node.js
  ``2026-...Z\t<request id>\tERROR\t...``, Python logging's ``%(asctime)s - %(name)s -
  %(levelname)s - ...`` and its default ``ERROR:root:...``): an upper-case level word among
  the first :data:`LEVEL_TOKENS` whitespace-separated tokens (a level word deeper in the line is
  message text, not the level).
- **key=value** (logfmt, Go's logrus and slog ``level=error msg=...``): a ``level=`` or
  ``lvl=`` token, any case.

Levels are normalised to ``TRACE``, ``DEBUG``, ``INFO``, ``WARN``, ``ERROR``, ``FATAL``
(:data:`CANONICAL`: ``WARNING`` -> ``WARN``, ``SEVERE``/``ERR`` -> ``ERROR``, ``CRITICAL``/
``PANIC``/``EMERGENCY``/``ALERT`` -> ``FATAL``, ``NOTICE``/``CONFIG`` -> ``INFO``, java.util.logging
``FINE``/``FINER``/``FINEST`` -> ``DEBUG``/``TRACE``). A line in no known format has level ``""``.
"""

from __future__ import annotations

import json
import re
from typing import Any

LEVEL_TOKENS = 6
"""Level words are looked for in the first six whitespace-separated tokens of a line (Python
logging's ``date time - name - LEVEL`` puts it sixth)."""

CANONICAL: dict[str, str] = {
    "TRACE": "TRACE",
    "FINEST": "TRACE",
    "FINER": "TRACE",
    "DEBUG": "DEBUG",
    "FINE": "DEBUG",
    "INFO": "INFO",
    "INFORMATION": "INFO",
    "NOTICE": "INFO",
    "CONFIG": "INFO",
    "WARN": "WARN",
    "WARNING": "WARN",
    "ERROR": "ERROR",
    "ERR": "ERROR",
    "SEVERE": "ERROR",
    "FATAL": "FATAL",
    "CRITICAL": "FATAL",
    "CRIT": "FATAL",
    "PANIC": "FATAL",
    "ALERT": "FATAL",
    "EMERGENCY": "FATAL",
    "EMERG": "FATAL",
}
"""Level names (upper case) -> the canonical level."""

JSON_KEYS = ("level", "levelname", "log.level", "severity", "severityText", "loglevel", "lvl", "@l")
"""Keys of a JSON line that hold its level, in order of preference."""

_PINO = {10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL"}
_WORDS = "|".join(sorted(CANONICAL, key=len, reverse=True))
# a level word as a whole token, optionally bracketed, or Python's default ``LEVEL:logger:``
_TOKEN = re.compile(rf"^[\[(<]?({_WORDS})(?:[\]):>]+.*|:.*)?$")
_KEY_VALUE = re.compile(r"^(?:level|lvl|severity)=\"?([A-Za-z]+)\"?$", re.I)


def _canonical(value: Any) -> str:
    if isinstance(value, bool):
        return ""
    if isinstance(value, int | float):
        return _PINO.get(int(value), "")
    if isinstance(value, dict):  # ECS {"log": {"level": ...}}
        return _canonical(value.get("level"))
    return CANONICAL.get(str(value).strip().upper(), "") if value is not None else ""


def _from_json(line: str) -> str | None:
    """The level of a JSON object line; None when the line is not a JSON object."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    if not isinstance(record, dict):
        return None
    for key in JSON_KEYS:
        if key in record:
            found = _canonical(record[key])
            if found:
                return found
    return _canonical(record.get("log")) if isinstance(record.get("log"), dict) else ""


def log_level(message: str) -> str:
    """The canonical level (:data:`CANONICAL`) of one raw log line, or ``""`` when the line
    carries none in a known format (see the module docstring for the formats).

    >>> log_level("2026-03-02T10:00:00.000Z  WARN 1 --- [main] c.e.App : slow")
    'WARN'
    >>> log_level("[ERROR]\\t2026-03-02T10:00:00.000Z\\t4f2a\\tfailed")
    'ERROR'
    """
    line = message.strip()
    if not line:
        return ""
    if line.startswith("{"):
        found = _from_json(line)
        if found is not None:
            return found
    for token in line.split(None, LEVEL_TOKENS)[:LEVEL_TOKENS]:
        matched = _TOKEN.match(token)
        if matched:
            return CANONICAL[matched.group(1)]
        keyed = _KEY_VALUE.match(token)
        if keyed:
            return CANONICAL.get(keyed.group(1).upper(), "")
    return ""

"""The level of a raw log line in each common format (:mod:`tools.loglevel`)."""

from __future__ import annotations

import pytest

from tools.loglevel import log_level


@pytest.mark.parametrize(
    ("line", "level"),
    [
        # Spring Boot / logback default console pattern
        (
            "2026-03-02T10:00:00.000Z  WARN 1 --- [nio-8080-exec-3] c.s.c.CartController : slow",
            "WARN",
        ),
        ("2026-03-02T10:00:00.000Z ERROR 1 --- [main] c.s.c.CartController : Call failed", "ERROR"),
        # log4j PatternLayout "%d %p [%t] %c - %m"
        ("2026-03-02 10:00:00,123 ERROR [main] com.example.App - boom", "ERROR"),
        # Lambda Python runtime (text format) and Node.js runtime
        ("[WARNING]\t2026-03-02T10:00:00.000Z\t4f2a-11\tThrottled; retrying", "WARN"),
        ("[ERROR]\t2026-03-02T10:00:00.000Z\t4f2a-11\tfailed", "ERROR"),
        ("2026-03-02T10:00:00.000Z\t4f2a-11\tERROR\tInvoke Error", "ERROR"),
        # Lambda JSON log format, Powertools, pino numeric levels, ECS log.level
        ('{"timestamp":"2026-03-02T10:00:00Z","level":"ERROR","message":"x"}', "ERROR"),
        ('{"level":"warning","msg":"x"}', "WARN"),
        ('{"level":50,"msg":"x"}', "ERROR"),
        ('{"log.level":"info","message":"x"}', "INFO"),
        ('{"log":{"level":"fatal"},"message":"x"}', "FATAL"),
        ('{"severityText":"WARN","body":"x"}', "WARN"),
        # Python logging: a common formatter and the default basicConfig format
        ("2026-03-02 10:00:00,123 - payments.client - CRITICAL - down", "FATAL"),
        ("ERROR:root:connection refused", "ERROR"),
        # logfmt / logrus / slog
        ('time="2026-03-02T10:00:00Z" level=warning msg="slow"', "WARN"),
        # the level first (the Nezha importer's lines)
        ("INFO a.c.AssuranceController#75 [createNewAssurance][Create new assurance]", "INFO"),
        ("SEVERE: Servlet.service() threw exception", "ERROR"),
    ],
)
def test_the_level_of_a_line_is_read_per_format(line: str, level: str) -> None:
    assert log_level(line) == level


def test_a_level_word_deep_in_the_message_is_not_the_level() -> None:
    assert log_level("2026-03-02 10:00:00 started worker 7 after an ERROR recovery") == ""
    assert log_level("2026-03-02 10:00:00 worker Error: retrying") == ""  # not upper case
    assert log_level("") == "" and log_level("   ") == ""
    assert log_level("{not json") == ""
    assert log_level('{"message":"no level here"}') == ""

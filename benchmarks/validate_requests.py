"""Validate every AWS request the test suite sends against botocore's service models.

botocore's own parameter validator (``botocore.validate.ParamValidator``) checks required
members, types and *minimum* lengths/values only; it deliberately skips ``max`` (string length,
list length, map size, number range), ``enum`` and ``pattern`` constraints, which the services
enforce and reject with a ``ValidationException``. This script checks all of them.

Usage::

    python benchmarks/validate_requests.py                 # run the AWS-facing tests, validate
    python benchmarks/validate_requests.py --capture F     # validate an existing capture file

Capture: ``tests/conftest.py::_capture_aws_requests`` appends one JSON line per request
(``service``, ``operation``, ``params``, ``test``) when ``RCA_CAPTURE_REQUESTS`` names a file.
Patterns are ECMAScript/Java regular expressions, not implicitly anchored (Smithy ``@pattern``
semantics), but AWS services validate members against the whole value and botocore ships the
patterns without anchors, so a value must match the *whole* pattern (``regex.fullmatch``; the
``regex`` module handles ``\\p{...}`` classes). Timestamps and
streams are not checked; blobs are checked by length.

Prints the number of requests, operations, constraint checks and violations; exits 1 on any
violation.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import regex

REPO = Path(__file__).resolve().parents[1]
# Test files that reach botocore (Stubber, moto or a real client); the validation test itself is
# excluded so the capture run cannot recurse.
MARKERS = ("Stubber", "mock_aws", "boto3", "make_client")
SELF = "test_request_validation.py"


@dataclass
class Report:
    """Counts and violations of one validation run."""

    requests: int = 0
    checks: int = 0
    operations: Counter[str] = field(default_factory=Counter)
    violations: list[str] = field(default_factory=list)
    unchecked_patterns: set[str] = field(default_factory=set)


# Limits the API reference documents but botocore's model omits: (service, operation, member
# path) -> maximum list length. StartQuery: "You can include up to 50 log groups" for
# logGroupNames and logGroupIdentifiers, and an identifier ARN "can't end with an asterisk"
# (https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_StartQuery.html).
DOCUMENTED_MAX = {
    ("logs", "StartQuery", "StartQuery.logGroupNames"): 50,
    ("logs", "StartQuery", "StartQuery.logGroupIdentifiers"): 50,
    # BatchGetTraces TraceIds: "Minimum number of 1 item. Maximum number of 5 items."
    # (https://docs.aws.amazon.com/xray/latest/api/API_BatchGetTraces.html)
    ("xray", "BatchGetTraces", "BatchGetTraces.TraceIds"): 5,
}

_PATTERNS: dict[str, Any] = {}


def _pattern(text: str) -> Any:
    if text not in _PATTERNS:
        try:
            _PATTERNS[text] = regex.compile(text)
        except regex.error:
            _PATTERNS[text] = None
    return _PATTERNS[text]


def check_value(shape: Any, value: Any, path: str, report: Report) -> None:
    """Check ``value`` against botocore ``shape`` recursively, appending violations."""
    meta = shape.metadata
    kind = shape.type_name
    if isinstance(value, dict) and ("__bytes__" in value or "__stream__" in value):
        if "__bytes__" in value and "max" in meta:
            report.checks += 1
            if value["__bytes__"] > meta["max"]:
                report.violations.append(f"{path}: {value['__bytes__']} bytes > max {meta['max']}")
        return
    if kind == "structure" and (meta.get("document") or getattr(shape, "is_document_type", False)):
        return  # a free-form JSON document (Converse tool schemas and inputs)
    if kind == "structure":
        if not isinstance(value, dict):
            report.violations.append(f"{path}: expected a structure")
            return
        for name in shape.required_members:
            report.checks += 1
            if name not in value:
                report.violations.append(f"{path}.{name}: required member missing")
        for name, item in value.items():
            member = shape.members.get(name)
            if member is None:
                report.violations.append(f"{path}.{name}: unknown member")
                continue
            check_value(member, item, f"{path}.{name}", report)
        if meta.get("union"):
            report.checks += 1
            if len(value) != 1:
                report.violations.append(f"{path}: a union takes exactly one member")
        return
    if kind == "list":
        if not isinstance(value, list):
            report.violations.append(f"{path}: expected a list")
            return
        _range(len(value), meta, path, "list length", report)
        for i, item in enumerate(value):
            check_value(shape.member, item, f"{path}[{i}]", report)
        return
    if kind == "map":
        if not isinstance(value, dict):
            report.violations.append(f"{path}: expected a map")
            return
        _range(len(value), meta, path, "map size", report)
        for key, item in value.items():
            check_value(shape.key, key, f"{path}<key {key!r}>", report)
            check_value(shape.value, item, f"{path}[{key!r}]", report)
        return
    if kind == "string":
        if not isinstance(value, str):
            return  # botocore's validator reports the type
        _range(len(value), meta, path, "length", report)
        if shape.enum:
            report.checks += 1
            if value not in shape.enum:
                report.violations.append(f"{path}: {value!r} not in enum {shape.enum}")
        if "pattern" in meta:
            compiled = _pattern(meta["pattern"])
            if compiled is None:
                report.unchecked_patterns.add(meta["pattern"])
            else:
                report.checks += 1
                if not compiled.fullmatch(value):
                    report.violations.append(
                        f"{path}: {value[:80]!r} does not match pattern {meta['pattern']!r}"
                    )
        return
    if kind in ("integer", "long", "float", "double") and isinstance(value, int | float):
        _range(value, meta, path, "value", report)


def _range(number: float, meta: dict[str, Any], path: str, what: str, report: Report) -> None:
    if "min" in meta:
        report.checks += 1
        if number < meta["min"]:
            report.violations.append(f"{path}: {what} {number} < min {meta['min']}")
    if "max" in meta:
        report.checks += 1
        if number > meta["max"]:
            report.violations.append(f"{path}: {what} {number} > max {meta['max']}")


def _documented(service: str, operation: str, params: dict[str, Any], report: Report) -> None:
    for (svc, op, path), limit in DOCUMENTED_MAX.items():
        if (svc, op) != (service, operation):
            continue
        value = params.get(path.split(".", 1)[1])
        if isinstance(value, list):
            report.checks += 1
            if len(value) > limit:
                report.violations.append(f"{path}: list length {len(value)} > max {limit}")
    if (service, operation) == ("logs", "StartQuery"):
        given = [k for k in ("logGroupName", "logGroupNames", "logGroupIdentifiers") if k in params]
        report.checks += 1
        if len(given) != 1 and "SOURCE" not in str(params.get("queryString", "")):
            report.violations.append(
                f"StartQuery: exactly one of the log group members, got {given}"
            )
        for ident in params.get("logGroupIdentifiers") or []:
            if str(ident).endswith("*"):
                report.violations.append(f"StartQuery.logGroupIdentifiers: {ident!r} ends with *")


def validate(records: list[dict[str, Any]], data_path: Path | None = None) -> Report:
    """Validate captured requests (dicts with ``service``, ``operation``, ``params``) against
    the installed botocore models, or those under ``data_path`` (an older botocore's
    ``botocore/data``: checks that the pinned minimum knows every operation and member)."""
    session = botocore.session.get_session()
    if data_path is not None:
        session.get_component("data_loader").search_paths.insert(0, str(data_path))
    models: dict[str, Any] = {}
    report = Report()
    for record in records:
        service = record["service"]
        if service not in models:
            models[service] = session.get_service_model(service)
        op = models[service].operation_model(record["operation"])
        report.requests += 1
        report.operations[f"{service}:{record['operation']}"] += 1
        before = len(report.violations)
        if op.input_shape is not None:
            check_value(op.input_shape, record["params"], record["operation"], report)
        _documented(service, record["operation"], record["params"], report)
        for i in range(before, len(report.violations)):
            report.violations[i] = f"{service} {report.violations[i]} (test {record.get('test')})"
    return report


def test_files(root: Path = REPO / "tests") -> list[str]:
    """Test files that reach botocore (see :data:`MARKERS`), the validation test excluded."""
    out = []
    for path in sorted(root.rglob("test_*.py")):
        if path.name == SELF:
            continue
        text = path.read_text(encoding="utf-8")
        if any(m in text for m in MARKERS):
            out.append(str(path.relative_to(REPO)))
    return out


def capture(files: list[str], target: Path) -> int:
    """Run ``pytest`` on ``files`` with request capture into ``target``; returns its exit code."""
    env = {**os.environ, "RCA_CAPTURE_REQUESTS": str(target)}
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *files]
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True).returncode


def load(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a capture file."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--capture", type=Path, help="validate this capture file (no test run)")
    parser.add_argument("--keep", type=Path, help="also write the capture to this file")
    parser.add_argument(
        "--botocore-data", type=Path, help="validate against another botocore's botocore/data"
    )
    args = parser.parse_args(argv)
    if args.capture:
        records = load(args.capture)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            target = Path(tmp) / "requests.jsonl"
            files = test_files()
            code = capture(files, target)
            if code != 0:
                print(f"error: the AWS-facing tests failed (pytest exit {code})", file=sys.stderr)
                return 1
            records = load(target) if target.exists() else []
            if args.keep:
                args.keep.write_text(target.read_text(encoding="utf-8"), encoding="utf-8")
    report = validate(records, args.botocore_data)
    print(f"requests validated: {report.requests}")
    print(f"operations: {len(report.operations)} ({', '.join(sorted(report.operations))})")
    print(f"constraint checks: {report.checks}")
    print(f"patterns not compilable (unchecked): {len(report.unchecked_patterns)}")
    print(f"violations: {len(report.violations)}")
    for line in report.violations[:50]:
        print("  " + line)
    return 1 if report.violations else 0


if __name__ == "__main__":
    sys.exit(main())

"""Robustness benchmark: hostile bundles, hostile PDFs, CLI misuse, interrupts, parallel writers.

Every case runs the real ``rca`` command in its own subprocess (``python -m cli.main``) with a
timeout and a peak-memory measurement (``ru_maxrss`` of that child, from ``os.wait4``), and an
address-space cap (``RLIMIT_AS``, :data:`AS_LIMIT_MB`) so a runaway case fails inside its own
process instead of exhausting the machine. A case passes when it exits within
:data:`CASE_TIMEOUT_S` seconds, prints no traceback, ends a failure with one ``error:`` line,
and stays under the stated peak-RSS ceiling :data:`MEMORY_CEILING_MB`.

Parts (``--part``):

- ``bundles``: >= 60 hostile incident bundles (:func:`hostile_bundles`) through
  ``rca bundle validate`` and ``rca ask``; ``rca eval`` over a directory mixing good and broken
  bundles (it must score the readable ones and list the broken ones);
- ``pdfs``: >= 20 hostile PDFs (:func:`hostile_pdfs`) through ``rca review``;
- ``cli``: >= 20 CLI misuses (:func:`cli_misuses`);
- ``interrupts``: ``rca review`` interrupted by a real SIGINT or SIGTERM at a random moment
  (seeded), then resumed: no hang, state ``failed``/``interrupted`` (never a stale
  ``assessing``), and the resumed result equal to an uninterrupted run; plus one SIGINT and one
  SIGTERM while assessment units that take 30 s each are in flight: the longest exit time
  (the process must not wait for them);
- ``parallel``: N follow-ups on one investigation session started at once as real processes:
  every turn stored.

Run: ``python benchmarks/robustness.py [--part all|bundles|pdfs|cli|interrupts|parallel]
[--interrupts 50] [--seed 7]``; exit status 1 when any case fails.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CASE_TIMEOUT_S = 60.0
MEMORY_CEILING_MB = 600.0
"""Stated ceiling on the peak resident memory of one ``rca`` process, whatever the input."""
AS_LIMIT_MB = 4096
"""Address-space cap of each case process (a safety net; RSS is what the ceiling measures)."""


# --------------------------------------------------------------------------- case runner
@dataclass
class CaseResult:
    """How one ``rca`` invocation ended."""

    name: str
    argv: list[str]
    exit_code: int | None
    message: str
    seconds: float
    peak_mb: float
    traceback: bool
    hung: bool
    stdout: str = ""
    stderr: str = ""

    @property
    def stderr_lines(self) -> list[str]:
        """The non-empty lines printed on stderr."""
        return [ln for ln in self.stderr.splitlines() if ln.strip()]

    @property
    def oom(self) -> bool:
        return "MemoryError" in self.stderr or (self.exit_code == -signal.SIGKILL and not self.hung)

    def problems(self, expect_ok: bool | None = None) -> list[str]:
        """What is wrong with this outcome (empty when it is acceptable)."""
        found = []
        if self.hung:
            found.append("hung")
        if self.traceback:
            found.append("traceback")
        if self.oom:
            found.append("out of memory")
        if self.peak_mb > MEMORY_CEILING_MB:
            found.append(f"peak {self.peak_mb:.0f} MB over the ceiling")
        # `rca` or `rca bundle` alone: the help on stdout, nothing on stderr, exit 2
        help_shown = self.exit_code == 2 and "Usage:" in self.stdout and not self.stderr.strip()
        if (
            not self.hung
            and self.exit_code not in (0,)
            and not self.message.startswith("error:")
            and not help_shown
        ):
            found.append("failure without one error: line")
        if self.exit_code == 2 and not help_shown and len(self.stderr_lines) != 1:
            found.append(f"usage error in {len(self.stderr_lines)} lines, not one")
        if expect_ok is True and self.exit_code != 0:
            found.append("expected success")
        if expect_ok is False and self.exit_code == 0:
            found.append("expected a failure")
        return found


def _limit_memory() -> None:  # runs in the child before exec
    limit = AS_LIMIT_MB * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1] if lines else ""


def rca_command(*args: str) -> list[str]:
    """The argv of one ``rca`` invocation through this interpreter."""
    return [sys.executable, "-m", "cli.main", *args]


def start(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> _Popen:
    """Start a process with its address space capped (:data:`AS_LIMIT_MB`)."""
    return _Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(cwd or REPO),
        preexec_fn=_limit_memory,
    )


def finish(
    name: str, proc: subprocess.Popen[str], argv: list[str], began: float, timeout: float
) -> CaseResult:
    """Wait for ``proc`` and measure its peak RSS. After ``timeout`` s it is hung: SIGABRT (with
    :func:`base_env`'s ``PYTHONFAULTHANDLER`` it writes its threads' stacks to stderr), then
    SIGKILL if it still runs 5 s later."""
    hung = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
        proc.send_signal(signal.SIGABRT)  # faulthandler dumps the threads (see base_env)
        try:
            stdout, stderr = proc.communicate(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            stdout, stderr = proc.communicate()
    peak_mb = _peaks.pop(proc.pid, 0.0)
    seconds = time.monotonic() - began
    message = _last_line(stderr) if proc.returncode else _last_line(stdout)
    return CaseResult(
        name=name,
        argv=argv,
        exit_code=proc.returncode,
        message=message,
        seconds=seconds,
        peak_mb=peak_mb,
        traceback="Traceback (most recent call last)" in stderr,
        hung=hung,
        stdout=stdout,
        stderr=stderr,
    )


_peaks: dict[int, float] = {}


class _Popen(subprocess.Popen):  # type: ignore[type-arg]
    """Popen that reaps with ``os.wait4`` to keep the child's own peak RSS (ru_maxrss, KiB)."""

    def poll_without_reaping(self) -> bool:
        """True while the child runs (checked with ``waitid(WNOWAIT)``, so the exit status and
        rusage stay for :meth:`_try_wait`)."""
        try:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return False
        return info is None

    def _try_wait(self, wait_flags: int) -> tuple[int, int]:
        try:
            pid, status, usage = os.wait4(self.pid, wait_flags)
        except ChildProcessError:
            return (self.pid, 0)
        if pid == self.pid:
            _peaks[pid] = usage.ru_maxrss / 1024.0
        return (pid, status)


def run_case(
    name: str,
    argv: list[str],
    env: dict[str, str],
    *,
    cwd: Path | None = None,
    timeout: float = CASE_TIMEOUT_S,
) -> CaseResult:
    """Run one command to completion (or timeout) and measure it."""
    began = time.monotonic()
    proc = start(argv, env, cwd)
    return finish(name, proc, argv, began, timeout)


JOBS = 2
"""Cases run this many at a time (each in its own process, measured on its own)."""


def run_many(jobs: list[tuple[str, list[str], dict[str, str]]]) -> list[CaseResult]:
    """Run ``(name, argv, env)`` cases :data:`JOBS` at a time; results in the given order."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        return list(pool.map(lambda job: run_case(*job), jobs))


def base_env(home: Path) -> dict[str, str]:
    """A minimal environment: no AWS credentials or config, a private RCA_HOME."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(home),
        "RCA_HOME": str(home / "rca-home"),
        "AWS_CONFIG_FILE": str(home / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(home / "no-aws-credentials"),
        "AWS_EC2_METADATA_DISABLED": "true",
        "COLUMNS": "200",
        "PYTHONDONTWRITEBYTECODE": "1",
        # a hung child gets SIGABRT before SIGKILL (:func:`finish`): faulthandler then writes
        # every thread's stack to its stderr, so a hang comes with where it hung
        "PYTHONFAULTHANDLER": "1",
    }


def table(title: str, results: list[CaseResult], expect: dict[str, bool | None]) -> str:
    """The results as a fixed-width table: input, exit code, message, seconds, peak MB."""
    lines = [
        title,
        f"{'input':<38} {'exit':>4} {'sec':>6} {'MB':>6}  {'problems / one-line message'}",
    ]
    for r in results:
        problems = r.problems(expect.get(r.name))
        text = ("!! " + ", ".join(problems) + " | " if problems else "") + r.message
        lines.append(
            f"{r.name[:38]:<38} {r.exit_code!s:>4} {r.seconds:6.2f} {r.peak_mb:6.0f}  {text[:150]}"
        )
    bad = [r for r in results if r.problems(expect.get(r.name))]
    lines.append(
        f"{len(results)} cases: {len(bad)} failing; tracebacks "
        f"{sum(r.traceback for r in results)}, hangs {sum(r.hung for r in results)}, "
        f"out of memory {sum(r.oom for r in results)}, peak "
        f"{max((r.peak_mb for r in results), default=0):.0f} MB "
        f"(ceiling {MEMORY_CEILING_MB:.0f} MB)"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------ hostile inputs
Mutation = Callable[[Path], None]


def _all(*_steps: object) -> None:
    """Run several mutation steps in one lambda (they are evaluated as arguments, in order)."""


def _write(path: Path, data: bytes | str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        data = data.encode("utf-8")
    path.write_bytes(data)


def _fifo(path: Path) -> None:
    if path.exists() or path.is_symlink():
        path.unlink()
    os.mkfifo(path)


def _sparse(path: Path, size: int) -> None:
    with path.open("wb") as handle:
        handle.truncate(size)


def _gzip_bomb(path: Path, size: int, line: bytes = b"\n") -> None:
    """A small .gz file that inflates to ``size`` bytes of ``line`` repeated."""
    import gzip

    chunk = line * (1024 * 1024 // len(line))
    with gzip.open(path, "wb", compresslevel=9) as handle:
        for _ in range(size // len(chunk)):
            handle.write(chunk)


def _spec(root: Path) -> dict[str, object]:
    import yaml

    return yaml.safe_load((root / "incident.yaml").read_text())


def _set_spec(root: Path, **changes: object) -> None:
    import yaml

    spec = _spec(root)
    spec.update(changes)
    (root / "incident.yaml").write_text(yaml.safe_dump(spec))


_NAN_ROWS = "".join(
    f'2026-03-02T10:0{i}:00Z,AWS/Lambda,Errors,"{{""FunctionName"": ""orders""}}",{v},Count\n'
    for i, v in enumerate(("nan", "inf", "-inf"), start=5)
)
LOG = "logs/%2Faws%2Flambda%2Forders.jsonl"


def _log_line(root: Path, line: str | bytes) -> None:
    with (root / LOG).open("ab") as handle:
        handle.write(line.encode() if isinstance(line, str) else line)
        handle.write(b"\n")


def _replace(root: Path, name: str) -> Path:
    path = root / name
    if path.exists() and not path.is_dir():
        path.unlink()
    return path


def _deep(n: int) -> str:
    return "[" * n + "]" * n


def _workspace(root: Path, edit: Callable[[dict[str, object]], None]) -> None:
    data = json.loads((root / "workspace.json").read_text())
    edit(data)
    (root / "workspace.json").write_text(json.dumps(data))


def _containers(data: dict[str, object]) -> list[dict[str, object]]:
    return data["model"]["softwareSystems"][0]["containers"]  # type: ignore[index,no-any-return]


# (name, mutation, expected: True = must succeed, False = must fail with one line)
BUNDLE_CASES: list[tuple[str, Mutation, bool | None]] = [
    (
        "empty directory",
        lambda r: _all(*[p.unlink() for p in r.rglob("*") if p.is_file()]),
        False,
    ),
    ("incident.yaml missing", lambda r: (r / "incident.yaml").unlink(), False),
    ("incident.yaml is a directory", lambda r: _replace(r, "incident.yaml").mkdir(), False),
    ("incident.yaml is a FIFO", lambda r: _fifo(r / "incident.yaml"), False),
    (
        "incident.yaml symlink outside",
        lambda r: _replace(r, "incident.yaml").symlink_to("/etc/hostname"),
        False,
    ),
    (
        "incident.yaml symlink loop",
        lambda r: _replace(r, "incident.yaml").symlink_to(r / "incident.yaml"),
        False,
    ),
    (
        "incident.yaml dangling symlink",
        lambda r: _replace(r, "incident.yaml").symlink_to(r / "nope"),
        False,
    ),
    ("incident.yaml empty", lambda r: _write(r / "incident.yaml", ""), False),
    ("incident.yaml not YAML", lambda r: _write(r / "incident.yaml", "a: [b\n\tc: }"), False),
    ("incident.yaml a list", lambda r: _write(r / "incident.yaml", "- 1\n- 2\n"), False),
    (
        "incident.yaml billion laughs",
        lambda r: _write(
            r / "incident.yaml",
            "a: &a [x,x,x,x,x,x,x,x,x]\n"
            + "".join(
                f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                for p, c in zip("abcdefgh", "bcdefghi", strict=True)
            )
            + "id: x\ndescription: y\n"
            + "window: {start: '2026-03-02T10:00:00Z', end: '2026-03-02T10:30:00Z'}\n"
            + "source: {bomb: *i}\n",
        ),
        False,
    ),
    (
        "incident.yaml nested 100k deep",
        lambda r: _write(r / "incident.yaml", _deep(100_000)),
        False,
    ),
    ("incident.yaml 2 MiB", lambda r: _write(r / "incident.yaml", "# x\n" * 600_000), False),
    ("incident.yaml binary", lambda r: _write(r / "incident.yaml", bytes(range(256)) * 64), False),
    ("bundle_version 99", lambda r: _set_spec(r, bundle_version=99), False),
    (
        "window end before start",
        lambda r: _set_spec(
            r, window={"start": "2026-03-02T11:00:00Z", "end": "2026-03-02T10:00:00Z"}
        ),
        False,
    ),
    (
        "window empty (start = end)",
        lambda r: _set_spec(
            r, window={"start": "2026-03-02T10:00:00Z", "end": "2026-03-02T10:00:00Z"}
        ),
        False,
    ),
    (
        "window in year 9999",
        lambda r: _set_spec(
            r, window={"start": "9999-12-31T22:00:00Z", "end": "9999-12-31T23:00:00Z"}
        ),
        False,
    ),
    (
        "window year 0001",
        lambda r: _set_spec(
            r, window={"start": "0001-01-01T00:00:00Z", "end": "0001-01-01T01:00:00Z"}
        ),
        False,
    ),
    (
        "window as epoch seconds",
        lambda r: _set_spec(r, window={"start": 1772445600, "end": 1772447400}),
        False,
    ),
    (
        "window as epoch nanoseconds",
        lambda r: _set_spec(r, window={"start": 1772445600 * 10**9, "end": 1772447400 * 10**9}),
        False,
    ),
    ("window missing", lambda r: _set_spec(r, window=None), False),
    (
        "window outside the telemetry",
        lambda r: _set_spec(
            r, window={"start": "2030-01-01T00:00:00Z", "end": "2030-01-01T01:00:00Z"}
        ),
        False,
    ),
    ("id 10k characters", lambda r: _set_spec(r, id="x" * 10_000), False),
    ("workspace.json missing", lambda r: (r / "workspace.json").unlink(), False),
    ("workspace.json not JSON", lambda r: _write(r / "workspace.json", "{not json"), False),
    (
        "workspace.json nested 100k deep",
        lambda r: _write(r / "workspace.json", _deep(100_000)),
        False,
    ),
    ("workspace.json empty object", lambda r: _write(r / "workspace.json", "{}"), False),
    ("workspace.json is a directory", lambda r: _replace(r, "workspace.json").mkdir(), False),
    (
        "workspace.json symlink outside",
        lambda r: _replace(r, "workspace.json").symlink_to("/etc/hostname"),
        False,
    ),
    (
        "workspace.json 40 MiB (sparse)",
        lambda r: _sparse(r / "workspace.json", 40 * 1024 * 1024),
        False,
    ),
    (
        "workspace duplicate element ids",
        lambda r: _workspace(r, lambda d: _containers(d).append(dict(_containers(d)[0]))),
        False,
    ),
    (
        "workspace relationship to nowhere (ignored)",
        lambda r: _workspace(
            r,
            lambda d: _containers(d)[0]["relationships"].append(  # type: ignore[union-attr]
                {"id": "zz", "sourceId": "2", "destinationId": "999", "description": "x"}
            ),
        ),
        None,
    ),
    (
        "logs is a file",
        lambda r: _all(__import__("shutil").rmtree(r / "logs"), _write(r / "logs", "x")),
        False,
    ),
    (
        "logs symlink outside",
        lambda r: _all(
            __import__("shutil").move(str(r / "logs"), str(r.parent / (r.name + "-logs"))),
            (r / "logs").symlink_to(r.parent / (r.name + "-logs")),
        ),
        False,
    ),
    ("log file is a FIFO", lambda r: _fifo(r / LOG), False),
    ("log file is a directory", lambda r: (r / "logs" / "x.jsonl").mkdir(), False),
    ("log line not JSON", lambda r: _log_line(r, "{oops"), False),
    ("log line a JSON array", lambda r: _log_line(r, "[1, 2]"), False),
    ("log line 2 MiB without newline", lambda r: _log_line(r, "x" * (2 * 1024 * 1024)), False),
    ("log file 100 MiB (sparse)", lambda r: _sparse(r / LOG, 100 * 1024 * 1024), False),
    ("log .gz not gzip", lambda r: (r / LOG).rename(r / (LOG + ".gz")), False),
    (
        "log .gz truncated",
        lambda r: _all(
            _write(r / (LOG + ".gz"), __import__("gzip").compress((r / LOG).read_bytes())[:-200]),
            (r / LOG).unlink(),
        ),
        False,
    ),
    (
        "log gzip bomb (1 GiB of newlines)",
        lambda r: _all(_gzip_bomb(r / (LOG + ".gz"), 1024**3), (r / LOG).unlink()),
        False,
    ),
    (
        "log timestamp epoch seconds",
        lambda r: _log_line(r, '{"timestamp": 1772445600, "message": "x"}'),
        False,
    ),
    (
        "log timestamp year 9999",
        lambda r: _log_line(r, '{"timestamp": "9999-01-01T00:00:00Z", "message": "x"}'),
        False,
    ),
    (
        "log timestamp garbage",
        lambda r: _log_line(r, '{"timestamp": "yesterday", "message": "x"}'),
        False,
    ),
    ("log timestamp 1e300", lambda r: _log_line(r, '{"timestamp": 1e300, "message": "x"}'), False),
    ("log message missing", lambda r: _log_line(r, '{"timestamp": "2026-03-02T10:05:00Z"}'), False),
    (
        "log message 300 KiB",
        lambda r: _log_line(
            r, json.dumps({"timestamp": "2026-03-02T10:05:00Z", "message": "y" * 300_000})
        ),
        False,
    ),
    ("log line nested 100k deep", lambda r: _log_line(r, _deep(100_000)), False),
    (
        "log invalid UTF-8",
        lambda r: _log_line(
            r, b'{"timestamp": "2026-03-02T10:05:00Z", "message": "bad \xff\xfe bytes"}'
        ),
        True,
    ),
    (
        "log escapes and NUL",
        lambda r: _log_line(
            r, json.dumps({"timestamp": "2026-03-02T10:05:00Z", "message": "\x1b[2J\x00[bold]x"})
        ),
        True,
    ),
    (
        "log file with odd suffix ignored",
        lambda r: _write(r / "logs" / "x.jsonl.bak", "garbage"),
        True,
    ),
    ("metrics.csv missing columns", lambda r: _write(r / "metrics.csv", "a,b\n1,2\n"), False),
    (
        "metrics.csv NaN and inf values",
        lambda r: _write(
            r / "metrics.csv",
            (r / "metrics.csv").read_text() + _NAN_ROWS,
        ),
        True,
    ),
    (
        "metrics.csv value not a number",
        lambda r: _write(
            r / "metrics.csv",
            (r / "metrics.csv").read_text()
            + "2026-03-02T10:05:00Z,AWS/Lambda,Errors,{},abc,Count\n",
        ),
        False,
    ),
    (
        "metrics.csv 200 KiB field",
        lambda r: _write(
            r / "metrics.csv",
            (r / "metrics.csv").read_text()
            + '2026-03-02T10:05:00Z,AWS/Lambda,Errors,"'
            + "x" * 200_000
            + '",1,Count\n',
        ),
        False,
    ),
    (
        "metrics.csv dimensions not JSON",
        lambda r: _write(
            r / "metrics.csv",
            (r / "metrics.csv").read_text() + "2026-03-02T10:05:00Z,AWS/Lambda,Errors,{x,1,Count\n",
        ),
        False,
    ),
    (
        "metrics.csv dimensions nested deep",
        lambda r: _write(
            r / "metrics.csv",
            (r / "metrics.csv").read_text()
            + "2026-03-02T10:05:00Z,AWS/Lambda,Errors,"
            + _deep(50_000)
            + ",1,Count\n",
        ),
        False,
    ),
    ("metrics.csv binary", lambda r: _write(r / "metrics.csv", bytes(range(256)) * 4096), False),
    (
        "metrics.csv unterminated quote",
        lambda r: _write(
            r / "metrics.csv",
            (r / "metrics.csv").read_text()
            + '2026-03-02T10:05:00Z,"AWS/Lambda\n'
            + "x,y\n" * 200_000,
        ),
        False,
    ),
    (
        "metrics.csv.gz bomb",
        lambda r: _all(
            _gzip_bomb(r / "metrics.csv.gz", 1024**3, b"2026-03-02T10:05:00Z,A,B,{},1,Count\n"),
            (r / "metrics.csv").unlink(),
        ),
        False,
    ),
    ("metrics.csv is a FIFO", lambda r: _fifo(r / "metrics.csv"), False),
    (
        "cloudtrail record without eventTime",
        lambda r: _write(
            r / "cloudtrail.jsonl", '{"eventID": "1", "eventSource": "x", "eventName": "y"}\n'
        ),
        False,
    ),
    (
        "cloudtrail eventTime epoch seconds",
        lambda r: _write(
            r / "cloudtrail.jsonl",
            '{"eventID": "1", "eventTime": 1772445600, "eventSource": "x", "eventName": "y"}\n',
        ),
        False,
    ),
    ("cloudtrail line a JSON array", lambda r: _write(r / "cloudtrail.jsonl", "[]\n"), False),
    (
        "alarms.jsonl unknown state",
        lambda r: _write(
            r / "alarms.jsonl",
            '{"alarm_name": "a", "timestamp": "2026-03-02T10:05:00Z", "old_state": "OK", '
            '"new_state": "ON_FIRE"}\n',
        ),
        False,
    ),
    (
        "alarms.jsonl.gz truncated",
        lambda r: _write(
            r / "alarms.jsonl.gz", __import__("gzip").compress(b'{"a": 1}\n' * 1000)[:30]
        ),
        False,
    ),
    ("spans.csv missing columns", lambda r: _write(r / "spans.csv", "a,b\n1,2\n"), False),
    (
        "spans.csv garbage",
        lambda r: _write(r / "spans.csv", '"' + "x" * 1000 + "\n,,,\n" * 10),
        False,
    ),
    (
        "no telemetry at all",
        lambda r: _all(
            [p.unlink() for p in (r / "logs").iterdir()],
            (r / "metrics.csv").unlink(),
            (r / "cloudtrail.jsonl").unlink(),
        ),
        False,
    ),
]


def hostile_bundles(root: Path) -> list[tuple[str, Path, bool | None]]:
    """Write every :data:`BUNDLE_CASES` bundle (a copy of the chain test bundle, mutated);
    return ``(name, path, expected success)``. Plus a missing path and a plain file."""
    import shutil

    from tests.builders import write_chain_bundle

    base = write_chain_bundle(root / "base")
    cases = [
        ("bundle path missing", root / "does-not-exist", False),
        ("bundle path is a file", root / "base" / "incident.yaml", False),
        ("good bundle (control)", base, True),
    ]
    for n, (name, mutate, ok) in enumerate(BUNDLE_CASES):
        path = root / f"case-{n:02d}"
        shutil.copytree(base, path)
        mutate(path)
        cases.append((name, path, ok))
    return cases


def run_bundles(
    root: Path, *, ask_all: bool = True
) -> tuple[list[CaseResult], dict[str, bool | None], list[str]]:
    """``rca bundle validate`` and ``rca ask`` on every hostile bundle; ``rca eval`` on all of
    them together. Returns results, expectations and mismatches between validate and ask.

    With ``ask_all=False`` (the CI test), ``ask`` runs on every bundle that validate accepts and
    on every fourth one it refuses (both commands open a bundle through the same
    ``open_bundle``), which halves the processes."""
    env = base_env(root / "home")
    results: list[CaseResult] = []
    expect: dict[str, bool | None] = {}
    mismatches = []
    cases = hostile_bundles(root / "bundles")
    validated = run_many(
        [(f"{n} [validate]", rca_command("bundle", "validate", str(p)), env) for n, p, _ in cases]
    )
    chosen = [n for n, v in enumerate(validated) if ask_all or v.exit_code == 0 or n % 4 == 0]
    question = ("ask", "checkout fails", "--quiet", "--bundle")
    answers = run_many(
        [(cases[n][0], rca_command(*question, str(cases[n][1])), env) for n in chosen]
    )
    asked = dict(zip(chosen, answers, strict=True))
    for n, (name, _path, ok) in enumerate(cases):
        validate = validated[n]
        results.append(validate)
        expect[validate.name] = ok
        ask = asked.get(n)
        if ask is None:
            continue
        results.append(ask)
        expect[ask.name] = ok
        if (ask.exit_code == 0) != (validate.exit_code == 0):
            mismatches.append(
                f"{name}: ask exit {ask.exit_code}, validate exit {validate.exit_code}"
            )
    evaluation = run_case(
        "rca eval over all hostile bundles",
        rca_command("eval", str(root / "bundles"), "--json"),
        env,
        timeout=240.0,
    )
    results.append(evaluation)
    expect[evaluation.name] = True
    return results, expect, mismatches


def _flate_stream_pdf(content: bytes, filters: str = "/FlateDecode") -> bytes:
    """A one-page PDF whose content stream is ``content`` (already encoded for ``filters``)."""
    from tests.reviews.pdfs import _assemble, _stream

    return _assemble(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [4 0 R] /Count 1 >>",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
            b"/Resources << /Font << /F1 3 0 R >> >> /Contents 5 0 R >>",
            _stream(content, f"/Filter {filters} "),
        ],
        root=1,
    )


def _bomb(size: int) -> bytes:
    import zlib

    inflater = zlib.compressobj(9)
    chunk = b" " * (1 << 20)
    out = b"".join(inflater.compress(chunk) for _ in range(size >> 20))
    return out + inflater.flush()


PDF_TEXT = [
    "The workload runs in two AWS Regions with Amazon Route 53 failover routing.",
    "Amazon CloudWatch alarms page the on-call engineer; runbooks are kept in the wiki.",
]


def hostile_pdfs(root: Path) -> list[tuple[str, Path, bool | None]]:
    """``(name, path, expected success)`` for every hostile PDF case (written under ``root``)."""
    import zlib

    from tests.reviews import pdfs

    root.mkdir(parents=True, exist_ok=True)
    good = pdfs.text_pdf([PDF_TEXT])
    cases: list[tuple[str, bytes | Callable[[Path], None], bool | None]] = [
        ("good PDF (control)", good, True),
        ("empty file", b"", False),
        ("plain text named .pdf", b"This is not a PDF at all.\n" * 20, False),
        ("PNG bytes named .pdf", b"\x89PNG\r\n\x1a\n" + bytes(2000), False),
        ("header only", b"%PDF-1.7\n", False),
        ("truncated PDF", pdfs.corrupt_pdf(), False),
        ("encrypted PDF (password)", pdfs.encrypted_pdf(PDF_TEXT), False),
        ("zero pages", pdfs.zero_page_pdf(), False),
        ("image only (scanned)", pdfs.image_only_pdf(), False),
        ("120 MiB (sparse)", lambda p: _sparse(p, 120 * 1024 * 1024), False),
        ("1,001 pages", pdfs.text_pdf([["page text long enough to count"]] * 1001), False),
        ("Flate bomb (1 GiB of spaces)", _flate_stream_pdf(_bomb(1024**3)), False),
        (
            "double Flate bomb",
            _flate_stream_pdf(zlib.compress(_bomb(1024**3), 9), "[/FlateDecode /FlateDecode]"),
            False,
        ),
        (
            "content nested 50k arrays deep",
            pdfs.text_pdf([PDF_TEXT]).replace(b"BT", b"[" * 50_000 + b" BT", 1),
            False,
        ),
        ("xref offsets past the end", good.replace(b"startxref\n", b"startxref\n99999999"), None),
        ("random bytes after header", b"%PDF-1.4\n" + random.Random(1).randbytes(1_000_000), False),
        ("page tree loop", good.replace(b"/Kids [4 0 R]", b"/Kids [2 0 R]"), None),
        ("page count claims a million", good.replace(b"/Count 1", b"/Count 1000000"), None),
        (
            "catalog without Pages",
            good.replace(b"/Type /Catalog /Pages 2 0 R", b"/Type /Catalog"),
            None,
        ),
        (
            "text with escapes and markup",
            pdfs.text_pdf([[*PDF_TEXT, "\x1b[2J [bold]x[/bold] <script>"]]),
            True,
        ),
        ("one line of 20k characters", pdfs.text_pdf([[*PDF_TEXT, "word " * 4000]]), True),
        ("directory named .pdf", lambda p: p.mkdir(), False),
        ("FIFO named .pdf", lambda p: os.mkfifo(p), False),
        ("symlink to /dev/zero", lambda p: p.symlink_to("/dev/zero"), False),
    ]
    out = []
    for n, (name, data, ok) in enumerate(cases):
        path = root / f"case-{n:02d}.pdf"
        if callable(data):
            data(path)
        else:
            path.write_bytes(data)
        out.append((name, path, ok))
    return out


def run_pdfs(root: Path) -> tuple[list[CaseResult], dict[str, bool | None]]:
    """``rca review`` (quick mode, one pillar) on every hostile PDF."""
    env = base_env(root / "home")
    cases = hostile_pdfs(root / "pdfs")
    argv = ("--pillar", "rel", "--quiet", "--out", str(root / "out"))
    results = run_many([(n, rca_command("review", str(p), *argv), env) for n, p, _ in cases])
    return results, {name: ok for name, _path, ok in cases}


def cli_misuses(root: Path) -> list[tuple[str, list[str], bool]]:
    """``(name, argv, expected success)`` for command lines a careless user types."""
    from tests.builders import write_chain_bundle

    bundle = write_chain_bundle(root / "good")
    broken = root / "evals" / "broken"
    (root / "evals").mkdir(parents=True, exist_ok=True)
    __import__("shutil").copytree(bundle, root / "evals" / "good")
    __import__("shutil").copytree(bundle, broken)
    (broken / "metrics.csv").write_text("timestamp,namespace\n")
    (root / "readonly").mkdir(exist_ok=True)
    os.chmod(root / "readonly", 0o500)
    b = str(bundle)
    return [
        ("no arguments", [], False),
        ("unknown command", ["frobnicate"], False),
        ("unknown subcommand", ["bundle", "frobnicate"], False),
        ("ask with an unknown option", ["ask", "x", "--bundle", b, "--foo"], False),
        ("ask without its question", ["ask"], False),
        ("ask --max-steps not a number", ["ask", "x", "--bundle", b, "--max-steps", "many"], False),
        ("ask --bundle without a value", ["ask", "x", "--bundle"], False),
        ("review-chat without arguments", ["review-chat"], False),
        ("ask with an empty question", ["ask", "  ", "--bundle", b], False),
        ("ask --bundle missing", ["ask", "x", "--bundle", str(root / "nope")], False),
        ("ask --start not a time", ["ask", "x", "--bundle", b, "--start", "yesterday"], False),
        (
            "ask --start after --end",
            [
                "ask",
                "x",
                "--bundle",
                b,
                "--start",
                "2026-03-02T11:00:00Z",
                "--end",
                "2026-03-02T10:00:00Z",
            ],
            False,
        ),
        (
            "ask --start in 1900",
            [
                "ask",
                "x",
                "--bundle",
                b,
                "--start",
                "1900-01-01T00:00:00Z",
                "--end",
                "1900-01-01T01:00:00Z",
            ],
            False,
        ),
        (
            "ask --start epoch seconds",
            ["ask", "x", "--bundle", b, "--start", "1772445600", "--end", "1772447400"],
            False,
        ),
        (
            "ask a 10-year window",
            [
                "ask",
                "x",
                "--bundle",
                b,
                "--start",
                "2020-01-01T00:00:00Z",
                "--end",
                "2030-01-01T00:00:00Z",
            ],
            None,
        ),
        ("ask --model unknown", ["ask", "x", "--bundle", b, "--model", "gpt"], False),
        ("ask --max-steps 0", ["ask", "x", "--bundle", b, "--max-steps", "0"], False),
        ("ask --component unknown", ["ask", "x", "--bundle", b, "--component", "Billing"], False),
        ("ask --session unknown", ["ask", "x", "--session", "nope"], False),
        ("ask --aws without --workspace", ["ask", "x", "--aws"], False),
        ("report of an unknown session", ["report", "nope"], False),
        ("eval a missing path", ["eval", str(root / "nope")], False),
        ("eval an empty directory", ["eval", str(root / "readonly")], False),
        ("eval good and broken bundles", ["eval", str(root / "evals")], True),
        ("bundle validate a file", ["bundle", "validate", str(bundle / "incident.yaml")], False),
        ("review a missing PDF", ["review", str(root / "nope.pdf")], False),
        ("review --mode bogus", ["review", str(root / "nope.pdf"), "--mode", "bogus"], False),
        ("review --resume unknown", ["review", "--resume", "nope"], False),
        ("review a PDF and --resume", ["review", str(root / "nope.pdf"), "--resume", "x"], False),
        ("review --format xls", ["review", str(root / "nope.pdf"), "--format", "xls"], False),
        ("review-report unknown id", ["review-report", "nope"], False),
        ("review-chat unknown id", ["review-chat", "nope", "hello"], False),
        ("lens validate a missing file", ["lens", "validate", str(root / "nope.json")], False),
    ]


def run_cli(root: Path) -> tuple[list[CaseResult], dict[str, bool | None]]:
    """Every CLI misuse, plus unwritable outputs and corrupt stores."""
    root.mkdir(parents=True, exist_ok=True)
    env = base_env(root / "home")
    results, expect = [], {}
    misuses = cli_misuses(root)
    results += run_many([(name, rca_command(*argv), env) for name, argv, _ in misuses])
    expect.update({name: ok for name, _argv, ok in misuses})
    # outputs that cannot be written
    pdf = root / "good.pdf"
    from tests.reviews import pdfs

    pdf.write_bytes(pdfs.text_pdf([PDF_TEXT]))
    first = run_case("ask", rca_command("ask", "x", "--bundle", str(root / "good"), "--json"), env)
    session = json.loads(first.stdout)["id"] if first.exit_code == 0 else "missing"
    not_a_dir = pdf / "x"  # a path under a regular file: unwritable even for root
    unwritable = [
        ("review --out unwritable", ["review", str(pdf), "-p", "rel", "--out", str(not_a_dir)]),
        ("report --out unwritable", ["report", session, "--out", str(not_a_dir / "r.md")]),
        ("report --out a directory", ["report", session, "--out", str(root)]),
        ("ask with an unwritable RCA_HOME", ["ask", "x", "--bundle", str(root / "good")]),
    ]
    for name, argv in unwritable:
        e = dict(env)
        if "RCA_HOME" in name:
            e["RCA_HOME"] = str(not_a_dir / "home")
        results.append(run_case(name, rca_command(*argv), e))
        expect[name] = False
    # corrupt stores
    bad_home = root / "corrupt-home"
    (bad_home / "rca-home").mkdir(parents=True, exist_ok=True)
    (bad_home / "rca-home" / "rca.db").write_bytes(b"not a database" * 100)
    (bad_home / "rca-home" / "reviews.db").write_bytes(b"not a database" * 100)
    for name, argv in [
        ("sessions with a corrupt store", ["sessions"]),
        ("review-list with a corrupt store", ["review-list"]),
    ]:
        results.append(run_case(name, rca_command(*argv), base_env(bad_home)))
        expect[name] = False
    return results, expect


# ----------------------------------------------------------------------------- interrupts
@dataclass
class InterruptRun:
    """One interrupted review and its resumption."""

    index: int
    signal_name: str
    delay_s: float
    exit_code: int | None
    exit_latency_s: float
    hung: bool
    traceback: bool
    state: str | None
    error_kind: str | None
    resumed_equal: bool
    message: str
    stacks: str = ""  # a hung run's thread stacks (faulthandler, see finish)

    def problems(self) -> list[str]:
        found = []
        if self.hung:
            found.append("hung")
        if self.traceback:
            found.append("traceback")
        if self.state in ("extracting", "assessing", "submitted", "pre-filling"):
            found.append(f"stale state {self.state}")
        killed_at_start = self.exit_code in (-signal.SIGINT, -signal.SIGTERM) and self.state is None
        if self.exit_code not in (0, 130) and not killed_at_start:
            # a signal before the interpreter reaches the CLI's first line can only kill it (the
            # default action): nothing stored, nothing printed, which is acceptable
            found.append(f"exit {self.exit_code}")
        if self.exit_code == 130 and self.state == "failed" and self.error_kind != "interrupted":
            found.append(f"error_kind {self.error_kind}")
        if not self.resumed_equal:
            found.append("resumed result differs")
        return found


def _design_pdf(path: Path) -> Path:
    from tests.reviews.pdfs import text_pdf

    facts = [
        "The workload runs in two AWS Regions with Amazon Route 53 failover routing.",
        "Amazon CloudWatch alarms page the on-call engineer; runbooks are kept in the wiki.",
        "Data is encrypted at rest with AWS KMS keys and in transit with TLS 1.2.",
        "IAM roles grant least privilege; credentials are rotated every 90 days.",
        "Backups are taken hourly with AWS Backup and restored in quarterly game days.",
        "Auto Scaling groups scale on CPU utilization; load tests run before each release.",
        "Deployments use AWS CodePipeline with canary releases and automatic rollback.",
        "Costs are tracked with AWS Budgets and cost allocation tags per team.",
    ]
    path.write_bytes(text_pdf([facts[i:] + facts[:i] for i in range(6)]))
    return path


def _comparable(assessment: dict[str, object]) -> list[tuple[object, ...]]:
    """What must not change between an uninterrupted and a resumed review."""
    rows = []
    for qa in assessment["questions"]:  # type: ignore[union-attr]
        rows.append(
            (
                qa["question_id"],  # type: ignore[index]
                qa["risk"],  # type: ignore[index]
                tuple(qa["selected_choices"]),  # type: ignore[index]
                tuple((bp["choice_id"], bp["verdict"]) for bp in qa["best_practices"]),  # type: ignore[index]
            )
        )
    return sorted(rows)


REVIEW_ARGS = ("--mode", "deep", "--pillar", "rel,sec", "--concurrency", "2")


def _stored_review(home: Path) -> dict[str, object] | None:
    """The newest review record under RCA_HOME ``home`` (as JSON), or None."""
    from reviews.store import SqliteReviewStore

    if not (home / "reviews.db").is_file():
        return None
    store = SqliteReviewStore(home / "reviews.db")
    try:
        records = store.list_reviews(1)
    finally:
        store.close()
    return records[0].model_dump(mode="json") if records else None


def interrupt_reviews(n: int, seed: int, root: Path) -> tuple[list[InterruptRun], str]:
    """``n`` reviews interrupted at seeded random moments by SIGINT or SIGTERM, each resumed
    and compared with one uninterrupted review of the same document."""
    rng = random.Random(seed)
    root.mkdir(parents=True, exist_ok=True)
    pdf = _design_pdf(root / "design.pdf")
    env = base_env(root / "reference")
    out = root / "reference-out"
    ref = run_case(
        "reference", rca_command("review", str(pdf), *REVIEW_ARGS, "--json", "--out", str(out)), env
    )
    if ref.exit_code != 0:
        raise RuntimeError(f"the uninterrupted review failed: {ref.stderr[-500:]}")
    expected = _comparable(json.loads(ref.stdout)["assessment"])
    span = ref.seconds
    # Even runs: the signal at a uniform moment of the whole command (start-up included); odd
    # runs: at a uniform moment of the first 1.5 s after the review record exists (extraction,
    # assessment, checkpoints, reports), where the bookkeeping is.
    plan = [
        (
            i,
            rng.choice([signal.SIGINT, signal.SIGTERM]),
            rng.uniform(0.0, span * 1.05) if i % 2 == 0 else rng.uniform(0.0, 1.5),
            i % 2 == 1,
        )
        for i in range(n)
    ]

    def one(i: int, sig: signal.Signals, delay: float, after_record: bool) -> InterruptRun:
        home = root / f"run-{i}"
        env = base_env(home)
        argv = rca_command("review", str(pdf), *REVIEW_ARGS, "--json", "--out", str(home / "out"))
        began = time.monotonic()
        proc = start(argv, env)
        db = Path(env["RCA_HOME"]) / "reviews.db"
        while after_record and proc.poll_without_reaping() and time.monotonic() - began < 60:
            if db.exists() and _stored_review(db.parent):
                break
            time.sleep(0.01)
        time.sleep(delay)
        sent_at = time.monotonic()
        os.kill(proc.pid, sig)  # not reaped yet, so the pid is still this child's
        result = finish(f"interrupt-{i}", proc, argv, began, 30.0)
        latency = max(0.0, time.monotonic() - sent_at)
        record = _stored_review(Path(env["RCA_HOME"]))
        if result.exit_code == 0:
            got = _comparable(json.loads(result.stdout)["assessment"])
        elif record is not None:
            resume = ("review", "--resume", str(record["id"]), "--json", "--out", str(home / "out"))
            resumed = run_case("resume", rca_command(*resume), env)
            got = (
                _comparable(json.loads(resumed.stdout)["assessment"])
                if resumed.exit_code == 0
                else []
            )
        else:  # interrupted before the review was stored: starting again is the resumption
            again = run_case("again", argv, env)
            got = (
                _comparable(json.loads(again.stdout)["assessment"]) if again.exit_code == 0 else []
            )
        return InterruptRun(
            index=i,
            signal_name=signal.Signals(sig).name,
            delay_s=delay,
            exit_code=result.exit_code,
            exit_latency_s=latency if result.exit_code != 0 else 0.0,
            hung=result.hung,
            traceback=result.traceback,
            state=str(record["state"]) if record else None,
            error_kind=str(record.get("error_kind")) if record else None,
            resumed_equal=got == expected,
            message=result.message,
            stacks=result.stderr[-6000:] if result.hung else "",
        )

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        runs = list(pool.map(lambda item: one(*item), plan))
    lines = [
        f"Interrupted reviews: {n} runs (seed {seed}); signal at U(0, {span * 1.05:.2f} s) of "
        "the command (even runs) or U(0, 1.5 s) after the review record exists (odd runs); "
        "reference: one uninterrupted run",
        f"{'#':>3} {'signal':<8} {'at s':>6} {'exit':>4} {'exit after s':>12} {'state':<10} "
        f"{'kind':<12} {'resumed = reference':<20} message",
    ]
    for r in runs:
        bad = r.problems()
        lines.append(
            f"{r.index:>3} {r.signal_name:<8} {r.delay_s:6.2f} {r.exit_code!s:>4} "
            f"{r.exit_latency_s:12.2f} {r.state!s:<10} {r.error_kind!s:<12} "
            f"{r.resumed_equal!s:<20} {('!! ' + ', '.join(bad) + ' | ') if bad else ''}"
            f"{r.message[:90]}"
        )
    interrupted = [r for r in runs if r.exit_code == 130]
    lines.append(
        f"{n} runs: {len(interrupted)} interrupted, {n - len(interrupted)} finished before the "
        f"signal; hangs {sum(r.hung for r in runs)}, tracebacks {sum(r.traceback for r in runs)}, "
        f"stale states {sum(1 for r in runs if r.state in ('extracting', 'assessing'))}, "
        f"resumed equal to the reference {sum(r.resumed_equal for r in runs)}/{n}; "
        f"max exit latency {max((r.exit_latency_s for r in interrupted), default=0):.2f} s"
    )
    lines += [f"run {r.index} hung; its threads:\n{r.stacks}" for r in runs if r.stacks]
    return runs, "\n".join(lines)


SLOW_UNITS = (
    "import sys, time\n"
    "from reviews.assessors.heuristic import HeuristicAssessor\n"
    "real, delay = HeuristicAssessor.assess, float(sys.argv[1])\n"
    "def slow(self, *args, **kwargs):\n"
    "    time.sleep(delay)\n"
    "    return real(self, *args, **kwargs)\n"
    "HeuristicAssessor.assess = slow\n"
    "sys.argv = ['rca', *sys.argv[2:]]\n"
    "from cli.main import app\n"
    "app()\n"
)
"""``rca`` whose every assessment unit first waits ``argv[1]`` seconds (a slow model call in
flight), then runs the real command line (``cli.main``) with the rest of argv."""


def slow_rca_command(unit_s: float, *args: str) -> list[str]:
    """The argv of one ``rca`` invocation whose assessment units each take ``unit_s`` more
    seconds (:data:`SLOW_UNITS`)."""
    return [sys.executable, "-c", SLOW_UNITS, str(unit_s), *args]


@dataclass
class InFlightRun:
    """One review interrupted while its assessment units were in flight."""

    signal_name: str
    unit_s: float
    exit_code: int | None
    exit_after_s: float
    hung: bool
    traceback: bool
    state: str | None
    error_kind: str | None
    message: str
    review_id: str | None = None
    home: Path | None = None

    def problems(self, ceiling_s: float) -> list[str]:
        found = []
        if self.hung:
            found.append("hung")
        if self.traceback:
            found.append("traceback")
        if self.exit_code != 130:
            found.append(f"exit {self.exit_code}")
        if self.exit_after_s > ceiling_s:
            found.append(f"exit after {self.exit_after_s:.2f} s > {ceiling_s:.1f} s")
        if (self.state, self.error_kind) != ("failed", "interrupted"):
            found.append(f"stored {self.state}/{self.error_kind}")
        return found


def interrupt_in_flight(
    root: Path, *, unit_s: float = 30.0, signals: tuple[signal.Signals, ...] | None = None
) -> list[InFlightRun]:
    """Start ``rca review`` whose units each take ``unit_s`` seconds, signal it once the review
    is ``assessing`` with units in flight, and measure how long the process takes to exit (a
    process that waited for its units would take about ``unit_s``)."""
    root.mkdir(parents=True, exist_ok=True)
    pdf = _design_pdf(root / "design.pdf")
    runs = []
    for i, sig in enumerate(signals or (signal.SIGINT, signal.SIGTERM)):
        env = base_env(root / f"inflight-{i}")
        home = Path(env["RCA_HOME"])
        argv = slow_rca_command(
            unit_s, "review", str(pdf), *REVIEW_ARGS, "--json", "--out", str(root / f"out-{i}")
        )
        began = time.monotonic()
        proc = start(argv, env)
        while proc.poll_without_reaping() and time.monotonic() - began < 60:
            record = _stored_review(home) if (home / "reviews.db").exists() else None
            if record and record["state"] == "assessing":
                break
            time.sleep(0.01)
        time.sleep(0.5)  # the units have started: each is now sleeping unit_s seconds
        sent = time.monotonic()
        os.kill(proc.pid, sig)
        result = finish(f"inflight-{i}", proc, argv, began, unit_s * 3)
        exit_after = time.monotonic() - sent
        record = _stored_review(home)
        runs.append(
            InFlightRun(
                signal_name=signal.Signals(sig).name,
                unit_s=unit_s,
                exit_code=result.exit_code,
                exit_after_s=exit_after,
                hung=result.hung,
                traceback=result.traceback,
                state=str(record["state"]) if record else None,
                error_kind=str(record.get("error_kind")) if record else None,
                message=result.message,
                review_id=str(record["id"]) if record else None,
                home=root / f"inflight-{i}",
            )
        )
    return runs


IN_FLIGHT_CEILING_S = 5.0
"""Stated ceiling on the exit time after a signal with assessment units in flight."""


def in_flight_table(runs: list[InFlightRun]) -> str:
    """The in-flight interruption runs and the longest exit time."""
    lines = [
        "Interrupted with assessment units in flight (each unit takes "
        f"{runs[0].unit_s:.0f} s; a process that waited for them would need about that long)",
        f"{'signal':<8} {'exit':>4} {'exit after s':>12} {'stored':<20} message",
    ]
    for r in runs:
        bad = r.problems(IN_FLIGHT_CEILING_S)
        lines.append(
            f"{r.signal_name:<8} {r.exit_code!s:>4} {r.exit_after_s:12.2f} "
            f"{f'{r.state}/{r.error_kind}':<20} {('!! ' + ', '.join(bad) + ' | ') if bad else ''}"
            f"{r.message[:90]}"
        )
    lines.append(
        f"longest exit after the signal: {max(r.exit_after_s for r in runs):.2f} s "
        f"(ceiling {IN_FLIGHT_CEILING_S:.0f} s)"
    )
    return "\n".join(lines)


# ------------------------------------------------------------------------------- parallel
FOLLOW_UP = (
    "import sys; from pathlib import Path; "
    "from agent.service import InvestigationService; "
    "from agent.sessions import SqliteSessionStore; "
    "service = InvestigationService(SqliteSessionStore(Path(sys.argv[1]))); "
    "service.follow_up(sys.argv[2], sys.argv[3])"
)
"""One follow-up through the service layer (:meth:`agent.service.InvestigationService.follow_up`,
the path every surface calls), in its own process."""


def parallel_follow_ups(n: int, root: Path, *, via_cli: bool = False) -> tuple[bool, str]:
    """Start one investigation (``rca ask``), then ``n`` follow-ups on it as simultaneous
    processes; every follow-up's turn must be in the stored session. ``via_cli`` runs each as
    ``rca ask --session`` instead of a direct service call."""
    from tests.builders import write_chain_bundle

    root.mkdir(parents=True, exist_ok=True)
    bundle = write_chain_bundle(root / "bundle")
    env = base_env(root / "home")
    first = run_case(
        "ask",
        rca_command("ask", "checkout fails", "--bundle", str(bundle), "--json", "--quiet"),
        env,
    )
    if first.exit_code != 0:
        raise RuntimeError(f"rca ask failed: {first.stderr[-400:]}")
    session = json.loads(first.stdout)["id"]
    questions = [f"follow-up {i}: is component {i} involved?" for i in range(n)]
    began = time.monotonic()
    db = str(Path(env["RCA_HOME"]) / "rca.db")
    procs = [
        (
            q,
            start(
                rca_command("ask", q, "--session", session, "--json", "--quiet")
                if via_cli
                else [sys.executable, "-c", FOLLOW_UP, db, session, q],
                env,
            ),
        )
        for q in questions
    ]
    results = [finish(q, p, [], began, CASE_TIMEOUT_S) for q, p in procs]
    seconds = time.monotonic() - began
    from agent.sessions import SqliteSessionStore

    stored = SqliteSessionStore(Path(env["RCA_HOME"]) / "rca.db").load(session)
    asked = [t.question for t in stored.turns]
    missing = [q for q in questions if q not in asked]
    ok = not missing and all(r.exit_code == 0 for r in results) and len(asked) == n + 1
    lines = [
        f"Parallel follow-ups ({'rca ask --session' if via_cli else 'InvestigationService'}): "
        f"{n} processes on session {session} in {seconds:.1f} s; exit codes "
        f"{[r.exit_code for r in results]}; stored turns {len(asked)} (1 initial + {n} "
        f"follow-ups); missing {len(missing)}; session version {stored.version}"
    ]
    return ok, "\n".join(lines)


# --------------------------------------------------------------------------------- main
PARTS: dict[str, Callable[..., tuple[bool, str]]] = {}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--part", default="all")
    parser.add_argument("--interrupts", type=int, default=50)
    parser.add_argument("--parallel", type=int, default=8)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    ok = True
    with tempfile.TemporaryDirectory(prefix="rca-robustness-") as tmp:
        root = Path(tmp)
        if args.part in ("all", "bundles"):
            results, expect, mismatches = run_bundles(root / "b")
            print(table("Hostile bundles: rca ask and rca bundle validate", results, expect))
            for line in mismatches:
                print("  validate/ask disagree:", line)
            ok &= not mismatches and not any(r.problems(expect.get(r.name)) for r in results)
        if args.part in ("all", "pdfs"):
            results, expect = run_pdfs(root / "p")
            print(table("Hostile PDFs: rca review", results, expect), flush=True)
            ok &= not any(r.problems(expect.get(r.name)) for r in results)
        if args.part in ("all", "cli"):
            results, expect = run_cli(root / "c")
            print(table("CLI misuse", results, expect), flush=True)
            ok &= not any(r.problems(expect.get(r.name)) for r in results)
        if args.part in ("all", "interrupts"):
            runs, text = interrupt_reviews(args.interrupts, args.seed, root / "interrupts")
            print(text, flush=True)
            ok &= not any(r.problems() for r in runs)
            flying = interrupt_in_flight(root / "in-flight")
            print(in_flight_table(flying), flush=True)
            ok &= not any(r.problems(IN_FLIGHT_CEILING_S) for r in flying)
        if args.part in ("all", "parallel"):
            good, text = parallel_follow_ups(args.parallel, root / "parallel")
            print(text, flush=True)
            ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

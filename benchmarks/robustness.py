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
  ``assessing``), and the resumed result equal to an uninterrupted run;
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
    def oom(self) -> bool:
        return "MemoryError" in self.stderr or self.exit_code == -signal.SIGKILL

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
        if not self.hung and self.exit_code not in (0,) and not self.message.startswith("error:"):
            found.append("failure without one error: line")
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


def start(argv: list[str], env: dict[str, str], cwd: Path | None = None) -> subprocess.Popen[str]:
    """Start an ``rca`` process with its own session (signals reach it alone)."""
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
    """Wait for ``proc`` (killing it after ``timeout`` s) and measure its peak RSS."""
    hung = False
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        hung = True
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

    def problems(self) -> list[str]:
        found = []
        if self.hung:
            found.append("hung")
        if self.traceback:
            found.append("traceback")
        if self.state in ("extracting", "assessing", "submitted", "pre-filling"):
            found.append(f"stale state {self.state}")
        if self.exit_code not in (0, 130):
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
    runs: list[InterruptRun] = []
    for i in range(n):
        home = root / f"run-{i}"
        env = base_env(home)
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        delay = rng.uniform(0.0, span * 1.05)
        argv = rca_command("review", str(pdf), *REVIEW_ARGS, "--json", "--out", str(home / "out"))
        began = time.monotonic()
        proc = start(argv, env)
        time.sleep(delay)
        sent_at = time.monotonic()
        os.kill(proc.pid, sig)  # not reaped yet, so the pid is still this child's
        result = finish(f"interrupt-{i}", proc, argv, began, 30.0)
        latency = max(0.0, time.monotonic() - sent_at)
        record = _stored_review(Path(env["RCA_HOME"]))
        if result.exit_code == 0:
            got = _comparable(json.loads(result.stdout)["assessment"])
        elif record is not None:
            resumed = run_case(
                "resume",
                rca_command(
                    "review", "--resume", record["id"], "--json", "--out", str(home / "out")
                ),
                env,
            )
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
        runs.append(
            InterruptRun(
                index=i,
                signal_name=signal.Signals(sig).name,
                delay_s=delay,
                exit_code=result.exit_code,
                exit_latency_s=latency if result.exit_code != 0 else 0.0,
                hung=result.hung,
                traceback=result.traceback,
                state=record["state"] if record else None,
                error_kind=record.get("error_kind") if record else None,
                resumed_equal=got == expected,
                message=result.message,
            )
        )
    lines = [
        f"Interrupted reviews: {n} runs (seed {seed}), signal at U(0, {span * 1.05:.2f} s); "
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
    return runs, "\n".join(lines)


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
        if args.part in ("all", "interrupts"):
            runs, text = interrupt_reviews(args.interrupts, args.seed, root / "interrupts")
            print(text, flush=True)
            ok &= not any(r.problems() for r in runs)
        if args.part in ("all", "parallel"):
            good, text = parallel_follow_ups(args.parallel, root / "parallel")
            print(text, flush=True)
            ok &= good
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())

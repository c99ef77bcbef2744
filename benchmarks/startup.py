"""Start-up cost of the entry points: CPU seconds and peak RSS of a fresh process.

Usage::

    python benchmarks/startup.py [--runs N] [--only NAME ...] [--no-ask] [--json]

Each entry point runs ``N`` times (default 5), each time alone in a fresh interpreter, one after
the other: ``rca --help``, ``rca ask --help``, one ``rca ask`` on the embedded demo bundle (the
README quick start's question; skipped with ``--no-ask``), and an ``import`` of each Lambda
handler module and of the Slack app (what a cold start or ``rca slack`` pays before the first
request). The parent reads each child's user + system CPU seconds and peak resident set size
(``ru_maxrss``, KiB on Linux) from ``os.wait4``; wall-clock time is not used, since the machine
is shared. Printed per entry point: the median and the spread (min-max) of the CPU seconds over
the runs, and the median peak RSS in MiB. The 1-minute load average (``os.getloadavg``) is
printed before and after: on a loaded machine CPU seconds grow a little too (cache misses,
frequency), so compare runs made at similar load.

The commands run against the checkout this file is in (its folder is put first on
``sys.path``), so the script copied into another checkout measures that one. Investigations
started by ``rca ask`` are stored in a temporary ``RCA_HOME``, removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

QUESTION = "Users of the iOS app cannot unlock car doors remotely"  # README quick start

_RCA = "import sys; sys.argv[0] = 'rca'; from cli.main import app; sys.exit(app())"

# (name, Python code run with ``-c``, extra argv): the ``rca`` script runs ``cli.main:app``.
ENTRY_POINTS: list[tuple[str, str, list[str]]] = [
    ("rca --help", _RCA, ["--help"]),
    ("rca ask --help", _RCA, ["ask", "--help"]),
    ("rca ask (demo)", _RCA, ["ask", QUESTION, "--quiet"]),
    ("import tools.handlers", "import tools.handlers", []),
    ("import reviews.handlers", "import reviews.handlers", []),
    ("import slackbot.lambda_handler", "import slackbot.lambda_handler", []),
    ("import slackbot.alarms", "import slackbot.alarms", []),
    ("import agent.runtime", "import agent.runtime", []),
    ("import slackbot.app", "import slackbot.app", []),
]


def run_once(code: str, argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run ``python -c code argv...`` once; its CPU seconds (user + system) and peak RSS (MiB).

    The child is waited for with ``os.wait4`` (not :mod:`subprocess`'s own wait), which gives
    its resource usage alone. Raises ``SystemExit`` with the child's stderr when it fails."""
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(
            [sys.executable, "-c", code, *argv],
            stdout=subprocess.DEVNULL,
            stderr=err,
            stdin=subprocess.DEVNULL,
            env=env,
            cwd=REPO,
        )
        _pid, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped
        if proc.returncode:
            err.seek(0)
            detail = err.read().decode()[-2000:]
            raise SystemExit(f"{code} {argv}: exit {proc.returncode}\n{detail}")
    return usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs per entry point (default 5)")
    parser.add_argument("--only", action="append", default=[], help="entry points to run")
    parser.add_argument("--no-ask", action="store_true", help="skip the demo investigation")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    chosen = [
        entry
        for entry in ENTRY_POINTS
        if (not args.only or entry[0] in args.only) and not (args.no_ask and "(demo)" in entry[0])
    ]
    if not chosen:
        parser.error(f"--only: none of {[name for name, _, _ in ENTRY_POINTS]}")
    print(f"checkout {REPO}; {args.runs} runs each; load average {os.getloadavg()[0]:.1f}")
    print(f"{'entry point':32s} {'CPU s median':>12s} {'min-max':>13s} {'peak RSS MiB':>12s}")
    figures = {}
    with tempfile.TemporaryDirectory() as home:
        env = {
            **os.environ,
            "RCA_HOME": home,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        }
        for name, code, extra in chosen:
            runs = [run_once(code, extra, env) for _ in range(args.runs)]
            cpu = [c for c, _ in runs]
            rss = statistics.median(r for _, r in runs)
            median = statistics.median(cpu)
            figures[name] = {"cpu_s": median, "min": min(cpu), "max": max(cpu), "rss_mib": rss}
            spread = f"{min(cpu):.2f}-{max(cpu):.2f}"
            print(f"{name:32s} {median:12.2f} {spread:>13s} {rss:12.0f}", flush=True)
    print(f"load average after: {os.getloadavg()[0]:.1f}")
    if args.json:
        print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())

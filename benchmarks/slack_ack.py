"""Ack latency of ``/rca`` in the Slack app while the investigations run lazily.

Dispatches N (default 50) really signed ``/rca`` requests into the Bolt app in this process
(``App.dispatch``, as Socket Mode and the HTTP adapters do), against a fake Slack Web API on
127.0.0.1, with the embedded demo bundle and the heuristic investigator. The ack latency is
the time ``dispatch`` takes to return the acknowledgement (signature check, retry claim,
allowlist, option parsing); the investigations run on Bolt's listener thread pool meanwhile,
so later acks are measured under that load. Slack's limit is 3 s; the goal here is p99 < 1 s.

Usage: ``python benchmarks/slack_ack.py [--n 50]``. Prints p50, p99 and max (ms) and the time
until every answer was posted.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from slack_sdk import WebClient

from agent.service import InvestigationService
from agent.sessions import SqliteSessionStore
from slackbot.app import build_app
from slackbot.config import embedded_default
from slackbot.dedupe import SqliteEventClaims
from tests.slackbot.conftest import SECRET, answers, command
from tests.slackbot.fake_slack import BOT_TOKEN, FakeSlack

QUESTION = "Users of the iOS app cannot unlock car doors remotely"


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (``q`` in 0..100)."""
    ordered = sorted(values)
    rank = max(1, round(q / 100 * len(ordered) + 0.5))
    return ordered[min(rank, len(ordered)) - 1]


def main() -> None:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50, help="number of /rca dispatches")
    args = parser.parse_args()
    fake = FakeSlack().start()
    with tempfile.TemporaryDirectory() as tmp:
        app = build_app(
            embedded_default(),
            InvestigationService(SqliteSessionStore(Path(tmp) / "rca.db")),
            SqliteEventClaims(Path(tmp) / "rca.db"),
            client=WebClient(token=BOT_TOKEN, base_url=fake.base_url),
            signing_secret=SECRET,
        )
        acks: list[float] = []
        started = time.perf_counter()
        for n in range(args.n):
            request = command(f"{QUESTION} ({n})", channel=f"C{n % 5}")
            t0 = time.perf_counter()
            response = app.dispatch(request)
            acks.append((time.perf_counter() - t0) * 1000)
            if response.status != 200:
                raise SystemExit(f"dispatch {n}: HTTP {response.status}")
        fake.wait_for(lambda: len(answers(fake)) == args.n, timeout=900)
        total = time.perf_counter() - started
    fake.stop()
    print(f"/rca ack latency over {args.n} dispatches (investigations running lazily):")
    print(
        f"  p50 {percentile(acks, 50):.1f} ms  p99 {percentile(acks, 99):.1f} ms  "
        f"max {max(acks):.1f} ms  mean {statistics.mean(acks):.1f} ms"
    )
    print(
        f"  all {args.n} answers posted after {total:.1f} s "
        f"({total / args.n:.2f} s per investigation on this machine)"
    )
    print(f"  goal p99 < 1000 ms: {'met' if percentile(acks, 99) < 1000 else 'NOT met'}")


if __name__ == "__main__":
    main()

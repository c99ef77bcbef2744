"""API calls and Logs Insights bytes scanned by one investigation through the AWS backend.

Runs the heuristic investigation of the demo scenario (``scenarios/bundles/connected-vehicle-sg``)
twice against replay clients that answer the AWS APIs from the bundle, in a simulated account
holding 200 log groups (the workspace maps 6; the other 194 get a deterministic synthetic volume):

- **workspace-mapped** (:class:`~tools.telemetry.aws.AwsBackend`): each component's own log
  groups (``rca.logGroups``), one ``pattern | diff`` query plus two per-bin queries each (the
  most changed patterns per minute of the window, and per reference bin of the baseline);
- **naive**: the same investigation, but every logs call queries every log group of the account
  (DescribeLogGroups, then queries of 50 groups each): what an agent without the C4 to
  log-group mapping has to do.

Metrics, alarms and CloudTrail calls are the same in both. Prints calls per operation, bytes and
records scanned, and the Logs Insights cost at $0.005 per GB scanned (CloudWatch pricing,
us-east-1). Usage: ``python benchmarks/aws_calls.py [bundle]``.
"""

from __future__ import annotations

import random
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from agent.loop import InvestigationLoop  # noqa: E402
from agent.providers.heuristic import HeuristicProvider  # noqa: E402
from tools.aws.replay import ExtraGroup, ReplayClients  # noqa: E402
from tools.bundle import Bundle  # noqa: E402
from tools.c4 import ArchitectureModel  # noqa: E402
from tools.context import ToolContext  # noqa: E402
from tools.models import TimeWindow  # noqa: E402
from tools.telemetry.aws import AwsBackend  # noqa: E402
from tools.telemetry.base import LogPatternResult  # noqa: E402

DEMO = ROOT / "scenarios" / "bundles" / "connected-vehicle-sg"
ACCOUNT_LOG_GROUPS = 200
PRICE_PER_GB = 0.005


class NaiveBackend(AwsBackend):
    """Queries every log group of the account for every logs call."""

    def log_patterns(
        self, log_groups: list[str], window: TimeWindow, baseline: TimeWindow, bin_seconds: int
    ) -> LogPatternResult:
        client = self.clients("logs", self.locations[0])
        names: list[str] = []
        token = None
        while True:
            page = client.describe_log_groups(limit=50, **({"nextToken": token} if token else {}))
            names += [g["logGroupName"] for g in page["logGroups"]]
            token = page.get("nextToken")
            if not token:
                break
        for group in names:
            self.group_location[group] = self.locations[0]
        return super().log_patterns(names, window, baseline, bin_seconds)


def simulated_account(bundle: Bundle, seed: int = 7) -> dict[str, ExtraGroup]:
    """194 unrelated log groups with a volume like the mapped ones (log-normal spread)."""
    span = bundle.incident.window.seconds * 2 / 60
    per_minute = [len(bundle.log_records(g)) / span for g in bundle.log_files]
    mean = sum(per_minute) / max(1, len(per_minute))
    rng = random.Random(seed)
    extra = ACCOUNT_LOG_GROUPS - len(bundle.log_files)
    return {
        f"/aws/lambda/unrelated-{i:03d}": ExtraGroup(mean * rng.lognormvariate(0, 1), 250.0)
        for i in range(extra)
    }


def run(bundle: Bundle, backend_class: type[AwsBackend]) -> dict[str, object]:
    clients = ReplayClients(bundle, extra_groups=simulated_account(bundle))
    arch = ArchitectureModel.load(bundle.workspace_path)
    backend = backend_class(
        arch, clients, sleep=lambda _: None, now=lambda: bundle.incident.window.end
    )
    window = bundle.incident.window
    ctx = ToolContext(
        architecture=arch,
        backend=backend,
        window=window,
        baseline=bundle.incident.baseline or window.previous(),
    )
    started = time.perf_counter()
    inv = InvestigationLoop(ctx, HeuristicProvider(arch)).run(bundle.incident.description)
    top = inv.answer.hypotheses[0]
    return {
        "calls": Counter(f"{s}:{op}" for s, op, _, _ in clients.log.calls),
        "bytes": clients.log.bytes_scanned,
        "records": clients.log.records_scanned,
        "top": arch.elements[top.component].name
        if top.component in arch.elements
        else top.component,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    path = Path(sys.argv[1]) if len(sys.argv) > 1 else DEMO
    bundle = Bundle(path)
    results = {
        "workspace-mapped": run(bundle, AwsBackend),
        "naive (all log groups)": run(bundle, NaiveBackend),
    }
    operations = sorted(set().union(*(r["calls"] for r in results.values())))  # type: ignore[arg-type]
    names = list(results)
    print(f"{bundle.incident.id}: one investigation; account with {ACCOUNT_LOG_GROUPS} log groups")
    print(f"{'API calls':34}" + "".join(f"{n:>24}" for n in names))
    for op in operations:
        print(f"  {op:32}" + "".join(f"{results[n]['calls'][op]:>24}" for n in names))  # type: ignore[index]
    totals = [sum(results[n]["calls"].values()) for n in names]  # type: ignore[attr-defined]
    print(f"{'  total':34}" + "".join(f"{t:>24}" for t in totals))
    rows = [
        ("Logs Insights MB scanned", lambda r: f"{r['bytes'] / 1e6:,.1f}"),
        ("Logs Insights records scanned", lambda r: f"{r['records']:,.0f}"),
        ("Logs Insights cost (USD)", lambda r: f"{r['bytes'] / 1e9 * PRICE_PER_GB:.5f}"),
        ("top hypothesis", lambda r: str(r["top"])),
        ("wall time (s, replayed)", lambda r: f"{r['seconds']:.1f}"),
    ]
    for label, fmt in rows:
        print(f"{label:34}" + "".join(f"{fmt(results[n]):>24}" for n in names))
    ratio = results[names[1]]["bytes"] / max(1.0, results[names[0]]["bytes"])  # type: ignore[operator]
    print(f"the naive approach scans {ratio:.0f}x the bytes")


if __name__ == "__main__":
    main()

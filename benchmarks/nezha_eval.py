"""RCA accuracy on the Nezha development cases: AC@1, AC@3, Avg@5 per system and fault type,
beside a constant baseline; Online Boutique split by trace availability; median seconds per case;
a reliability table of the top-1 confidence on cases its temperature was not fitted on.

Usage::

    python benchmarks/nezha_eval.py [BUNDLES_DIR] [--data DATA_DIR]

Imports the cases into ``BUNDLES_DIR`` (default ``.cache/nezha-bundles``) when it holds none.
Nothing in the ranking is fitted (every detector is a fixed null-model test). The only fitted
quantity is the confidence temperature: it is fitted by maximum likelihood on one system and
the reliability table is reported on the other (leave-one-system-out). The constant baseline
ranks services by how often they were the root cause in the *other* cases of the same system
(leave-one-case-out).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.evaluation import find_bundles  # noqa: E402
from agent.factory import open_bundle  # noqa: E402
from agent.loop import InvestigationLoop  # noqa: E402
from agent.providers.heuristic import HeuristicProvider  # noqa: E402
from agent.scoring import SIGNIFICANT, score  # noqa: E402
from scenarios.nezha import import_all  # noqa: E402

TEMPERATURES = [0.5, 1, 2, 4, 8, 16, 32, 64]


def run_case(path: Path) -> dict:
    started, cpu = time.perf_counter(), time.process_time()
    session = open_bundle(path)
    bundle = session.require_bundle()
    incident, arch = bundle.incident, session.architecture
    inv = InvestigationLoop(session.context, HeuristicProvider(arch)).run(
        incident.description, investigation_id=incident.id
    )
    seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu  # every thread of the process
    ranked = score(arch, inv.evidence, list(arch.elements))
    names = [arch.elements[c.component].name for c in ranked]
    truth = incident.ground_truth.component
    return {
        "case": incident.id,
        "system": incident.source.get("system", "?"),
        "fault": incident.ground_truth.fault_kind,
        "truth": truth,
        "ranking": names,
        "scores": [c.score for c in ranked],
        "rank": names.index(truth) + 1 if truth in names else None,
        "truth_score": ranked[names.index(truth)].score if truth in names else 0.0,
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "traces": _has_window_spans(bundle),
        "services": [e.name for e in arch.elements.values() if e.kind == "container"],
    }


def _has_window_spans(bundle) -> bool:
    spans, window = bundle.spans, bundle.incident.window
    if spans.empty:
        return False
    lo, hi = int(window.start.timestamp() * 1e9), int(window.end.timestamp() * 1e9)
    return bool(((spans["start_ns"] >= lo) & (spans["start_ns"] < hi)).any())


def peak_rss_mib() -> float:
    """Peak resident set size of this process so far (MiB; ``ru_maxrss`` is KiB on Linux)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ac(ranks: list[int | None], k: int) -> float:
    return sum(r is not None and r <= k for r in ranks) / len(ranks) if ranks else 0.0


def line(
    group: str, ranks: list[int | None], base: list[int | None], secs: list[float], cpu: list[float]
) -> str:
    avg5 = sum(ac(ranks, k) for k in range(1, 6)) / 5
    b_avg5 = sum(ac(base, k) for k in range(1, 6)) / 5
    return (
        f"| {group} | {len(ranks)} | {ac(ranks, 1):.3f} | {ac(ranks, 3):.3f} | {avg5:.3f} | "
        f"{ac(base, 1):.3f} | {ac(base, 3):.3f} | {b_avg5:.3f} | "
        f"{statistics.median(secs) if secs else 0:.2f} | "
        f"{statistics.median(cpu) if cpu else 0:.2f} |"
    )


def constant_rank(case: dict, cases: list[dict]) -> int | None:
    others = Counter(c["truth"] for c in cases if c["system"] == case["system"] and c is not case)
    order = sorted(case["services"], key=lambda s: -others.get(s, 0))  # stable: workspace order
    return order.index(case["truth"]) + 1 if case["truth"] in order else None


def top_confidence(scores: list[float], t: float) -> float:
    if not scores:
        return 0.0
    top = max(scores)
    z = sum(math.exp((s - top) / t) for s in scores) + math.exp((SIGNIFICANT - top) / t)
    return 1.0 / z


def fit_temperature(cases: list[dict]) -> float:
    def loglik(t: float) -> float:
        total = 0.0
        for c in cases:
            p = min(max(top_confidence(c["scores"], t), 1e-6), 1 - 1e-6)
            total += math.log(p if c["rank"] == 1 else 1 - p)
        return total

    return max(TEMPERATURES, key=loglik)


def main(argv: list[str] | None = None) -> int:
    shared = Path(os.environ.get("RCA_SHARED_DATA", REPO.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("bundles", nargs="?", type=Path, default=REPO / ".cache" / "nezha-bundles")
    parser.add_argument("--data", type=Path, default=shared / "nezha")
    args = parser.parse_args(argv)
    if not find_bundles([args.bundles]):
        if not (args.data / "index.json").is_file():
            print(f"no Nezha data at {args.data} (index.json missing)", file=sys.stderr)
            return 2
        import_all(args.data, args.bundles)
    cases = [run_case(p) for p in find_bundles([args.bundles])]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    walls, cpus = [c["seconds"] for c in cases], [c["cpu_seconds"] for c in cases]
    print(
        f"{len(cases)} cases; 1-minute load average at the end {load:.1f} on "
        f"{os.cpu_count()} CPUs (seconds are wall-clock, single process)\n"
        f"seconds per case: wall-clock median {statistics.median(walls):.2f}, max "
        f"{max(walls):.2f}; CPU median {statistics.median(cpus):.2f}, max {max(cpus):.2f}; "
        f"peak resident memory of this process {peak_rss_mib():.0f} MiB (ru_maxrss)\n"
    )
    for c in cases:
        c["base"] = constant_rank(c, cases)
    groups: dict[str, list[dict]] = defaultdict(list)
    for c in cases:
        groups["all"].append(c)
        groups[c["system"]].append(c)
        groups[f"{c['system']} / {c['fault']}"].append(c)
        if c["system"] == "onlineboutique":
            groups[f"onlineboutique / {'with' if c['traces'] else 'without'} traces"].append(c)
    print("Nothing in the ranking is fitted; constant baseline: services by root-cause frequency")
    print("in the other cases of the system (leave-one-case-out).\n")
    print(
        "| group | cases | AC@1 | AC@3 | Avg@5 | const AC@1 | const AC@3 | const Avg@5 | "
        "median s | median CPU s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in sorted(groups, key=lambda g: (g != "all", g)):
        members = groups[name]
        print(
            line(
                name,
                [c["rank"] for c in members],
                [c["base"] for c in members],
                [c["seconds"] for c in members],
                [c["cpu_seconds"] for c in members],
            )
        )
    print("\nReliability of the top-1 confidence, temperature fitted on the other system:")
    print("| bin | cases | mean confidence | accuracy |\n|---|---|---|---|")
    rows: list[tuple[float, bool]] = []
    for system in sorted({c["system"] for c in cases}):
        train = [c for c in cases if c["system"] != system]
        t = fit_temperature(train) if train else 4.0
        print(f"<!-- {system}: temperature {t} fitted on {len(train)} other-system cases -->")
        rows += [
            (top_confidence(c["scores"], t), c["rank"] == 1) for c in cases if c["system"] == system
        ]
    for lo, hi in ((0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.01)):
        inside = [(p, ok) for p, ok in rows if lo <= p < hi]
        if inside:
            print(
                f"| {lo:.2f}-{min(hi, 1):.2f} | {len(inside)} | "
                f"{statistics.mean(p for p, _ in inside):.3f} | "
                f"{sum(ok for _, ok in inside) / len(inside):.3f} |"
            )
    print("\nPer case (rank of the truth, top 3):")
    for c in cases:
        print(
            f"- {c['case']}: rank {c['rank']} (-log10 p {c['truth_score']:.1f}), "
            f"top {c['ranking'][:3]}, {c['seconds']:.2f} s "
            f"({c['cpu_seconds']:.2f} s CPU)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

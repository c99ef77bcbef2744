"""Evaluate the investigator on randomly generated incidents, per workspace, beside baselines.

Usage::

    python benchmarks/generated_eval.py [--count N] [--seed-start S] [--out DIR]

Generates ``N`` incidents (default 25) per workspace with :mod:`scenarios.randomgen` from the
seeds ``S .. S+N-1`` and investigates each with the same code ``rca eval`` runs
(:func:`agent.evaluation.evaluate`). Two workspaces: the real Big Bank plc workspace from
``../shared/data/structurizr/`` (skipped when that data is absent) with
``scenarios/overlays/big-bank-plc.yaml``, and the project's ``scenarios/workspaces/checkout.json``
with ``scenarios/overlays/checkout.yaml``.

**Seeds.** The default seed start is :data:`EVAL_SEEDS_FROM`: CRC32 of :data:`SEED_LABEL`, fixed
on 2026-12-06 before any incident from that range was generated or looked at. Development used
seeds below 1000 only. Retired ranges: the first (label without ", range N") showed a generator
bug (a silent wrong result counted in the returning component's own error metric); range 2 was
reported once on the code before the generator's realism fixes (error returns answer 500,
throttles answer 429/400, client spans name their peer) and its per-kind figures were seen, so
the fixed generator was measured on range 3, whose per-kind misses (throttling without status
codes) were then worked on with development seeds, and the generator changed again (throttled
Lambda invocations never run), so range 3 is retired too and range 4 was measured; range 4 was
then seen by later work (50/50), so range 5 (label fixed on branch h-logsnull before any of its
incidents was generated, for the logs tool's per-bin null) was measured and seen; range 6
(label fixed before any of its incidents was generated, for the span self-time detector and the
AWS reference bins) is measured on the merged tree. Nothing in
the generator or the investigator was tuned on any held-out range; do not tune on them (pick a
new label for a new range).

**Reliability.** The top hypothesis' confidence is the product's (:func:`agent.scoring.confidence`,
temperature fitted on the Nezha Train Ticket development cases, nothing fitted on generated
incidents); the table bins it and shows the observed AC@1 per bin.

Prints, per workspace and per workspace and fault kind: AC@1, AC@3, Avg@5 of the investigator;
the same for a constant baseline (candidate components by call-graph degree, most central first,
the same ranking for every incident) and the random expectation (k / number of candidates);
the median seconds per case of investigation and of generation; how many incidents had a causal
change and a neighbouring incident.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.evaluation import CaseResult, Scores, evaluate, scores  # noqa: E402
from scenarios.randomgen import (  # noqa: E402
    constant_ranking,
    generate_set,
    load_inputs,
    seed_range,
)
from tools.bundle import Bundle  # noqa: E402

SEED_LABEL = "rca generated evaluation, held out, 2026-12-06, range 6"
BINS = ((0.0, 0.5), (0.5, 0.8), (0.8, 0.95), (0.95, 1.01))
EVAL_SEEDS_FROM = seed_range(SEED_LABEL)


def workspaces(shared: Path) -> list[tuple[str, Path, Path]]:
    """(label, workspace, overlay) of the evaluated workspaces that exist here."""
    out = []
    big_bank = shared / "structurizr" / "big-bank-plc.json"
    if big_bank.is_file():
        out.append(("big-bank (real)", big_bank, REPO / "scenarios/overlays/big-bank-plc.yaml"))
    out.append(
        (
            "checkout",
            REPO / "scenarios/workspaces/checkout.json",
            REPO / "scenarios/overlays/checkout.yaml",
        )
    )
    return out


def baseline_results(results: list[CaseResult], ranking: list[str]) -> list[CaseResult]:
    """The constant ranking scored on the same cases."""
    return [
        r.model_copy(
            update={
                "ranking": ranking,
                "rank": ranking.index(r.truth) + 1 if r.truth in ranking else None,
                "seconds": 0.0,
                "error": None,
            }
        )
        for r in results
    ]


def _row(label: str, s: Scores, base: Scores, n_cands: int) -> str:
    rnd = [min(1.0, k / n_cands) for k in (1, 3)] + [
        sum(min(1.0, k / n_cands) for k in range(1, 6)) / 5
    ]
    return (
        f"{label:<34} {s.cases:>5} {s.ac1:>6.3f} {s.ac3:>6.3f} {s.avg5:>6.3f}   "
        f"{base.ac1:>6.3f} {base.ac3:>6.3f} {base.avg5:>6.3f}   "
        f"{rnd[0]:>6.3f} {rnd[1]:>6.3f} {rnd[2]:>6.3f} {s.median_seconds:>7.2f}"
    )


def reliability(results: list[CaseResult]) -> list[str]:
    """Markdown rows ``| bin | cases | mean confidence | AC@1 |`` of the top-1 confidence."""
    rows = []
    for lo, hi in BINS:
        inside = [r for r in results if lo <= (r.confidence or 0.0) < hi]
        if inside:
            mean = statistics.mean(r.confidence or 0.0 for r in inside)
            acc = sum(r.hit(1) for r in inside) / len(inside)
            rows.append(f"| {lo:.2f}-{min(hi, 1.0):.2f} | {len(inside)} | {mean:.3f} | {acc:.3f} |")
    return rows


def run(
    count: int, seed_start: int, out: Path, shared: Path, only: str = ""
) -> dict[str, list[CaseResult]]:
    """Generate, evaluate and print; returns the results per workspace label (only the
    workspaces whose label starts with ``only`` when given)."""
    header = (
        f"{'group':<34} {'cases':>5} {'AC@1':>6} {'AC@3':>6} {'Avg@5':>6}   "
        f"{'cAC@1':>6} {'cAC@3':>6} {'cAvg5':>6}   {'rAC@1':>6} {'rAC@3':>6} {'rAvg5':>6} "
        f"{'med s':>7}"
    )
    print(f"seeds {seed_start}..{seed_start + count - 1} per workspace (label {SEED_LABEL!r})")
    print("investigator | c = constant baseline (most central first) | r = random expectation")
    every: dict[str, list[CaseResult]] = {}
    for label, workspace, overlay in workspaces(shared):
        if only and not label.startswith(only):
            continue
        _ws, _ov, _arch, topo = load_inputs(workspace, overlay)
        ranking = constant_ranking(topo)
        started = time.perf_counter()
        paths = generate_set(workspace, overlay, seed_start, count, out / label.split()[0])
        gen_s = (time.perf_counter() - started) / max(1, len(paths))
        results, _ = evaluate(paths)
        every[label] = results
        causal = sum("causal_event_id" in Bundle(p).incident.source for p in paths)
        neighbour = sum("neighbour" in Bundle(p).incident.source for p in paths)
        errors = [r for r in results if r.error]
        print()
        print(
            f"== {label}: {len(paths)} incidents, {len(ranking)} candidate components, "
            f"{causal} with a causal change, {neighbour} with a neighbouring incident, "
            f"{len(errors)} failed; generation {gen_s:.1f} s per incident"
        )
        print(f"   constant ranking: {', '.join(ranking[:5])}, ...")
        print(header)
        base = baseline_results(results, ranking)
        groups: dict[str, list[int]] = defaultdict(list)
        for i, r in enumerate(results):
            groups["all"].append(i)
            groups[r.fault_kind].append(i)
        for group in ["all", *sorted(k for k in groups if k != "all")]:
            idx = groups[group]
            mine = scores(group, [results[i] for i in idx])
            theirs = scores(group, [base[i] for i in idx])
            print(_row(group, mine, theirs, len(ranking)))
        for r in errors:
            print(f"   failed {r.case}: {r.error}")
    pooled = [r for rs in every.values() for r in rs]
    if pooled:
        print()
        print(
            f"all workspaces: {len(pooled)} incidents, AC@1 {scores('all', pooled).ac1:.3f}, "
            f"median {statistics.median(r.seconds for r in pooled):.2f} s per case (max "
            f"{max(r.seconds for r in pooled):.2f}, wall-clock); peak resident memory of this "
            f"process {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB"
        )
        print("\nReliability of the top-1 confidence (temperature fitted on Nezha Train Ticket):")
        print("| bin | cases | mean confidence | AC@1 |\n|---|---|---|---|")
        print("\n".join(reliability(pooled)))
    return every


def main(argv: list[str] | None = None) -> int:
    shared = Path(os.environ.get("RCA_SHARED_DATA", REPO.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=25, help="incidents per workspace")
    parser.add_argument("--seed-start", type=int, default=EVAL_SEEDS_FROM)
    parser.add_argument("--out", type=Path, default=REPO / ".cache" / "generated-eval")
    parser.add_argument("--only", default="", help="only the workspace whose label starts so")
    parser.add_argument("--json", type=Path, help="also write the per-case results here")
    args = parser.parse_args(argv)
    if args.count < 1:
        print("--count must be at least 1", file=sys.stderr)
        return 2
    every = run(args.count, args.seed_start, args.out, shared, args.only)
    if args.json:
        rows = {k: [r.model_dump(mode="json") for r in v] for k, v in every.items()}
        args.json.write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

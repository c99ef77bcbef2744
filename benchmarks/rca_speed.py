"""Speed and memory of one investigation per case: wall-clock and CPU seconds, peak RSS.

Usage::

    python benchmarks/rca_speed.py [--nezha DIR] [--generated DIR ...] [--no-shipped]
        [--rankings-out FILE] [--compare FILE] [--profile DIR] [--repeat N]

Every case runs alone in its own process (one after the other, never in parallel), exactly as
``rca eval`` investigates it: open the bundle, run the heuristic investigator, score the
evidence. The child reports the investigation's wall-clock and CPU seconds (``time.perf_counter``
and ``time.process_time``, from opening the bundle to the scored ranking; interpreter start-up and
imports excluded); the parent reads the child's peak resident set size and total CPU (imports
included) from ``os.wait4``. Printed per group (the case's ``source.system``, else the name of
its parent folder): cases, median, p90 and largest of the wall-clock and CPU seconds, median
process CPU seconds and the largest peak RSS. Medians and p90s are over cases (p90 by the
nearest-rank rule); with ``--repeat N`` each case is run N times and its fastest run counts
(the machine is shared, so the fastest run is the least disturbed one).

Groups: the Nezha development bundles (``--nezha``, default ``.cache/nezha-bundles``, made with
``benchmarks/nezha_import.py``), the nine shipped scenarios (``scenarios/bundles``) and any
folders of generated bundles (``--generated``, made with ``rca bundle generate-random``).

The machine's 1-minute load average (``os.getloadavg``) is printed before and after: wall-clock
figures on a loaded machine are longer than the CPU figures by the time the process waited.

``--rankings-out FILE`` writes every case's ranked hypotheses (rank, component, fault category,
confidence, statement) and the evidence scorer's ranking with scores as JSON; ``--compare FILE``
compares them with a file written earlier (e.g. from the code before a speed change) and exits 1
when any case differs. ``--profile DIR`` writes a cProfile file per case into ``DIR`` and prints
the ten functions of largest cumulative time of the slowest case of each group.
"""

from __future__ import annotations

import argparse
import cProfile
import json
import math
import os
import pstats
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def investigate(path: Path) -> dict[str, Any]:
    """Investigate one bundle in this process (what ``rca eval`` does per case) and return its
    timing (seconds; the modules are imported before the clock starts) and rankings."""
    from agent.factory import open_bundle
    from agent.loop import InvestigationLoop
    from agent.providers.heuristic import HeuristicProvider
    from agent.scoring import score

    started, cpu = time.perf_counter(), time.process_time()
    session = open_bundle(path)
    incident = session.require_bundle().incident
    arch = session.architecture
    inv = InvestigationLoop(session.context, HeuristicProvider(arch)).run(
        incident.description, investigation_id=incident.id
    )
    ranked = score(arch, inv.evidence, list(arch.elements))
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    hypotheses = [
        [h.rank, h.component, h.fault_category, h.confidence, h.statement]
        for h in (inv.answer.hypotheses if inv.answer else [])
    ]
    return {
        "case": incident.id,
        "system": str(incident.source.get("system") or arch.name),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "hypotheses": hypotheses,
        "scores": [[arch.elements[c.component].name, c.score] for c in ranked],
    }


class _InlinePool:
    """Stands in for the loop's thread pool while profiling: cProfile sees only its own
    thread, so the tool calls run one after another in it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        pass

    def __enter__(self) -> _InlinePool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def map(self, fn: Any, items: Any) -> Any:
        return [fn(item) for item in items]


def _child(path: Path, profile: Path | None) -> int:
    # imported before the clock starts: the tools and the model load them on first use
    import buildzr.loaders  # noqa: F401
    import drain3  # noqa: F401
    import networkx  # noqa: F401
    import pandas  # noqa: F401
    import scipy.stats  # noqa: F401

    import agent.factory
    import agent.loop
    import agent.providers.heuristic
    import agent.scoring

    if profile is None:
        result = investigate(path)
    else:
        agent.loop.ThreadPoolExecutor = _InlinePool  # type: ignore[attr-defined,misc]
        profiler = cProfile.Profile()
        result = profiler.runcall(investigate, path)
        profiler.dump_stats(str(profile))
    print(json.dumps(result))
    return 0


def run_case(path: Path, profile: Path | None) -> dict[str, Any]:
    """Run one case in a fresh process; its result plus peak RSS (MiB) and process CPU seconds
    (read with ``wait4``: the process is forked and waited for by hand, since
    :mod:`subprocess` reaps the child itself)."""
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(path)]
    if profile is not None:
        command += ["--profile-file", str(profile)]
    read_fd, write_fd = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: exec the investigation
        os.dup2(write_fd, 1)
        os.dup2(err_w, 2)
        for fd in (read_fd, write_fd, err_r, err_w):
            os.close(fd)
        os.execv(sys.executable, command)
    os.close(write_fd)
    os.close(err_w)
    with os.fdopen(read_fd, "rb") as out, os.fdopen(err_r, "rb") as err:
        stdout = out.read()
        stderr = err.read()
    _pid, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status):
        raise SystemExit(f"{path}: the investigation failed:\n{stderr.decode()[-2000:]}")
    result = json.loads(stdout.decode().strip().splitlines()[-1])
    result["path"] = str(path)
    result["rss_mib"] = usage.ru_maxrss / 1024  # KiB on Linux
    result["process_cpu"] = usage.ru_utime + usage.ru_stime
    return result


def p90(values: list[float]) -> float:
    """90th percentile by the nearest-rank rule."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def bundles(args: argparse.Namespace) -> list[tuple[str, Path]]:
    """Every bundle to measure with the name of its set (``nezha``, ``shipped`` or
    ``generated``), in a fixed order."""
    from agent.evaluation import find_bundles

    sets = [("nezha", args.nezha)] if args.nezha.is_dir() else []
    if not args.no_shipped:
        sets.append(("shipped", REPO / "scenarios" / "bundles"))
    sets += [("generated", folder) for folder in args.generated]
    return [(name, path) for name, folder in sets for path in find_bundles([folder])]


def compare(now: dict[str, Any], before: dict[str, Any]) -> list[str]:
    """Cases whose rankings differ (one line each), and cases present in only one run."""
    problems = []
    for case in sorted(set(now) | set(before)):
        if case not in now or case not in before:
            problems.append(f"{case}: only in {'the earlier' if case in before else 'this'} run")
        elif now[case] != before[case]:
            problems.append(f"{case}: rankings differ")
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nezha", type=Path, default=REPO / ".cache" / "nezha-bundles")
    parser.add_argument("--generated", type=Path, action="append", default=[])
    parser.add_argument("--no-shipped", action="store_true")
    parser.add_argument("--rankings-out", type=Path)
    parser.add_argument("--compare", type=Path)
    parser.add_argument("--profile", type=Path, help="folder for one cProfile file per case")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        return _child(args.child, args.profile_file)
    paths = bundles(args)
    if not paths:
        print("no bundles found; import the Nezha cases with benchmarks/nezha_import.py")
        return 2
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    results = []
    for set_name, path in paths:
        runs = []
        for attempt in range(max(1, args.repeat)):
            profile = (
                args.profile / f"{path.name}.prof"
                if args.profile is not None and attempt == 0
                else None
            )
            runs.append(run_case(path, profile))
        best = min(runs, key=lambda r: r["seconds"])
        if set_name != "nezha":
            best["system"] = f"{set_name} {best['system']}"
        results.append(best)
        print(
            f"- {best['system']} {best['case']}: {best['seconds']:.2f} s wall, "
            f"{best['cpu_seconds']:.2f} s CPU, {best['rss_mib']:.0f} MiB",
            file=sys.stderr,
        )
    load_after = os.getloadavg()[0]
    print(
        f"{len(results)} cases, one process each, run one after another; 1-minute load average "
        f"{load_before:.1f} before and {load_after:.1f} after, on {os.cpu_count()} CPUs"
        + (f"; fastest of {args.repeat} runs per case" if args.repeat > 1 else "")
        + "\n"
    )
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in results:
        groups[r["system"]].append(r)
    print(
        "| group | cases | median wall s | p90 wall s | max wall s | median CPU s | p90 CPU s | "
        "max CPU s | median process CPU s | peak RSS MiB |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name in sorted(groups):
        rows = groups[name]
        wall = [r["seconds"] for r in rows]
        cpu = [r["cpu_seconds"] for r in rows]
        print(
            f"| {name} | {len(rows)} | {statistics.median(wall):.2f} | {p90(wall):.2f} | "
            f"{max(wall):.2f} | {statistics.median(cpu):.2f} | {p90(cpu):.2f} | {max(cpu):.2f} | "
            f"{statistics.median(r['process_cpu'] for r in rows):.2f} | "
            f"{max(r['rss_mib'] for r in rows):.0f} |"
        )
    if args.profile is not None:
        for name in sorted(groups):
            slowest = max(groups[name], key=lambda r: r["cpu_seconds"])
            print(f"\nProfile of the slowest {name} case, {slowest['case']} (cumulative):")
            stats = pstats.Stats(str(args.profile / f"{Path(slowest['path']).name}.prof"))
            stats.sort_stats("cumulative").print_stats(12)
    rankings = {r["case"]: {"hypotheses": r["hypotheses"], "scores": r["scores"]} for r in results}
    if args.rankings_out is not None:
        args.rankings_out.write_text(json.dumps(rankings, indent=1, sort_keys=True))
    if args.compare is not None:
        problems = compare(rankings, json.loads(args.compare.read_text()))
        print(
            f"\nRankings compared with {args.compare}: "
            + ("identical for every case" if not problems else f"{len(problems)} differ")
        )
        for line in problems:
            print(f"- {line}")
        return 1 if problems else 0
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

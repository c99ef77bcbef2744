"""Import every Nezha development case into incident bundles; print size, time and memory per case.

Usage::

    python benchmarks/nezha_import.py [OUT_DIR] [--data DATA_DIR] [--memory] [--case NAME ...]

``OUT_DIR`` defaults to ``.cache/nezha-bundles`` under the repository, ``DATA_DIR`` to
``../shared/data/nezha`` next to it (or ``$RCA_SHARED_DATA/nezha``); ``--case`` imports only the
named cases.

Per case: the bundle's size on disk, wall-clock seconds (``time.perf_counter``) and CPU seconds
of this process (``time.process_time``; on a shared machine the wall-clock time includes the
time the process waited for a CPU, the CPU time does not). The cases run one after another in
one process, as :func:`scenarios.nezha.import_all` runs them, so the first case of each system
also reads the other baseline days (cached for the next cases). At the end: the median and the
largest of both times, and the process's peak resident set size (``resource.getrusage``
``ru_maxrss``: interpreter, pandas and every case together).

``--memory`` also traces Python and numpy allocations (:mod:`tracemalloc`) and prints each
case's peak of traced memory (MiB above what was allocated before the case started); tracing
slows the import down about twofold, so its times are not comparable with a run without it.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
import tracemalloc
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from scenarios.nezha import import_case, list_cases  # noqa: E402


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> int:
    shared = Path(os.environ.get("RCA_SHARED_DATA", REPO.parent / "shared" / "data"))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=REPO / ".cache" / "nezha-bundles")
    parser.add_argument("--data", type=Path, default=shared / "nezha")
    parser.add_argument("--memory", action="store_true", help="trace each case's peak memory")
    parser.add_argument("--case", action="append", default=[], help="only these cases")
    args = parser.parse_args(argv)
    if not (args.data / "index.json").is_file():
        print(f"no Nezha data at {args.data} (index.json missing)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    cases = [c for c in list_cases(args.data) if not args.case or c.name in args.case]
    if not cases:
        print(f"no case of {args.data} matches {args.case}", file=sys.stderr)
        return 2
    if args.memory:
        tracemalloc.start()
    total_bytes = 0
    walls: list[float] = []
    cpus: list[float] = []
    peaks: list[float] = []
    load_before = os.getloadavg()[0]
    print(
        f"{'case':<52} {'KiB':>7} {'wall s':>7} {'CPU s':>6}"
        + ("  peak MiB" if args.memory else "")
    )
    for case in cases:
        if args.memory:
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
        started, cpu = time.perf_counter(), time.process_time()
        path = import_case(case, args.out, baseline_root=args.data / "baseline")
        walls.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        size = _size(path)
        total_bytes += size
        line = f"{case.name:<52} {size / 1024:>7.0f} {walls[-1]:>7.2f} {cpus[-1]:>6.2f}"
        if args.memory:
            peaks.append((tracemalloc.get_traced_memory()[1] - base) / 2**20)
            line += f"  {peaks[-1]:>8.1f}"
        print(line, flush=True)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    print(
        f"{len(cases)} cases into {args.out}: {total_bytes / 2**20:.1f} MiB; wall-clock "
        f"{sum(walls):.1f} s (median {statistics.median(walls):.2f}, max {max(walls):.2f} per "
        f"case), CPU {sum(cpus):.1f} s (median {statistics.median(cpus):.2f}, max "
        f"{max(cpus):.2f}); peak RSS of the process {rss:.0f} MiB"
        + (
            f"; traced peak per case median {statistics.median(peaks):.0f}, "
            f"max {max(peaks):.0f} MiB"
            if peaks
            else ""
        )
    )
    print(
        f"1-minute load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} CPUs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Grouping accuracy of :class:`tools.logmining.LogTemplateMiner` on the LogHub 2k samples.

Usage::

    python benchmarks/loghub_grouping.py [--data DIR] [--assign add|match] [--depth N] [--sim-th X]

``DIR`` holds one folder per system with ``<Sys>_2k.log_structured.csv.gz`` (columns include
``Content`` and ``EventId``; see the README next to the data). Default: ``$RCA_SHARED_DATA/loghub``
when ``RCA_SHARED_DATA`` (the shared ``data`` folder) is set, else ``../shared/data/loghub``
relative to the repository root. Every system folder found is evaluated; missing ones are skipped.

For each system a fresh miner (one general configuration, the same for every system) is fed every
``Content`` in file order. Each line's predicted cluster is the id :meth:`LogTemplateMiner.add`
returned for it (``--assign add``, the LogPAI benchmark's convention: Drain ids are stable even when
a template generalises later), or the cluster :meth:`LogTemplateMiner.match` finds for it against
the final templates (``--assign match``; a line nothing matches is its own cluster). Grouping
accuracy is :func:`tools.logmining.grouping_accuracy` (Zhu et al., ICSE-SEIP 2019).

The ``Drain (LogPAI)`` column shows the published Drain accuracy on the same samples (Zhu et al.
2019), which used a per-system regex list and per-system parameters, for reference.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.logmining import LogTemplateMiner, MinerSettings, grouping_accuracy  # noqa: E402

PUBLISHED_DRAIN_GA: dict[str, float] = {
    "HDFS": 0.998,
    "Hadoop": 0.948,
    "Spark": 0.920,
    "Zookeeper": 0.967,
    "OpenStack": 0.733,
    "BGL": 0.963,
    "HPC": 0.887,
    "Linux": 0.690,
    "HealthApp": 0.780,
    "Apache": 1.000,
    "OpenSSH": 0.788,
}
"""Drain's grouping accuracy on Loghub-2k as published by LogPAI (per-system settings)."""


@dataclass(frozen=True)
class SystemResult:
    """One system's outcome: sizes, accuracy and mining time (seconds, wall clock)."""

    system: str
    lines: int
    true_templates: int
    mined_clusters: int
    accuracy: float
    seconds: float


def default_data_dir() -> Path:
    """``$RCA_SHARED_DATA/loghub`` when that variable is set, else ``../shared/data/loghub``."""
    shared = os.environ.get("RCA_SHARED_DATA")
    base = Path(shared) if shared else REPO.parent / "shared" / "data"
    return base / "loghub"


def structured_file(system_dir: Path) -> Path:
    """The structured CSV of a system folder (it may not exist)."""
    return system_dir / f"{system_dir.name}_2k.log_structured.csv.gz"


def find_systems(data_dir: Path) -> list[Path]:
    """System folders under ``data_dir`` that hold a structured CSV, by name."""
    if not data_dir.is_dir():
        return []
    return sorted(
        (p for p in data_dir.iterdir() if p.is_dir() and structured_file(p).is_file()),
        key=lambda p: p.name.lower(),
    )


def read_structured(system_dir: Path) -> tuple[list[str], list[str]]:
    """``(contents, event_ids)`` of a system's structured CSV, in line order."""
    with gzip.open(structured_file(system_dir), "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    return [row["Content"] for row in rows], [row["EventId"] for row in rows]


def evaluate(
    system_dir: Path, settings: MinerSettings | None = None, assign: str = "add"
) -> SystemResult:
    """Mine one system's sample with a fresh miner and score its grouping accuracy."""
    if assign not in ("add", "match"):
        raise ValueError(f"assign must be 'add' or 'match', not {assign!r}")
    contents, events = read_structured(system_dir)
    start = time.perf_counter()
    miner = LogTemplateMiner(settings)
    added = [miner.add(content) for content in contents]
    predicted: list[object]
    if assign == "add":
        predicted = list(added)
    else:
        matched = [miner.match(content) for content in contents]
        predicted = [m if m is not None else ("unmatched", i) for i, m in enumerate(matched)]
    seconds = time.perf_counter() - start
    return SystemResult(
        system=system_dir.name,
        lines=len(contents),
        true_templates=len(set(events)),
        mined_clusters=len(set(predicted)),
        accuracy=grouping_accuracy(events, predicted),
        seconds=seconds,
    )


def format_table(results: list[SystemResult]) -> str:
    """A plain-text table of the results, with the mean accuracy on the last line."""
    header = (
        f"{'system':<12} {'lines':>6} {'true templates':>15} {'mined clusters':>15} "
        f"{'GA':>6} {'Drain (LogPAI)':>15} {'seconds':>8}"
    )
    lines = [header, "-" * len(header)]
    for r in results:
        published = PUBLISHED_DRAIN_GA.get(r.system)
        ref = f"{published:.3f}" if published is not None else "-"
        lines.append(
            f"{r.system:<12} {r.lines:>6} {r.true_templates:>15} {r.mined_clusters:>15} "
            f"{r.accuracy:>6.3f} {ref:>15} {r.seconds:>8.2f}"
        )
    lines.append("-" * len(header))
    if results:
        mean = sum(r.accuracy for r in results) / len(results)
        refs = [PUBLISHED_DRAIN_GA[r.system] for r in results if r.system in PUBLISHED_DRAIN_GA]
        ref_mean = f"{sum(refs) / len(refs):.3f}" if len(refs) == len(results) else "-"
        total = sum(r.seconds for r in results)
        lines.append(
            f"{'mean':<12} {sum(r.lines for r in results):>6} {'':>15} {'':>15} "
            f"{mean:>6.3f} {ref_mean:>15} {total:>8.2f}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the process exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--data", type=Path, default=None, help="folder of LogHub system folders")
    parser.add_argument(
        "--assign",
        choices=("add", "match"),
        default="add",
        help="line -> cluster: id returned by add (default) or match against final templates",
    )
    defaults = MinerSettings()
    parser.add_argument("--depth", type=int, default=defaults.depth)
    parser.add_argument("--sim-th", type=float, default=defaults.sim_th)
    args = parser.parse_args(argv)

    data_dir: Path = args.data if args.data is not None else default_data_dir()
    systems = find_systems(data_dir)
    if not systems:
        print(f"no LogHub system folders with structured CSVs under {data_dir}", file=sys.stderr)
        return 2
    settings = MinerSettings(depth=args.depth, sim_th=args.sim_th)
    print(f"data: {data_dir}")
    print(f"settings: {settings.model_dump()}  assign: {args.assign}")
    results = [evaluate(system, settings, args.assign) for system in systems]
    print(format_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Import every Nezha development case into incident bundles; print size and time per case.

Usage::

    python benchmarks/nezha_import.py [OUT_DIR] [--data DATA_DIR]

``OUT_DIR`` defaults to ``.cache/nezha-bundles`` under the repository, ``DATA_DIR`` to
``../shared/data/nezha`` next to it (or ``$RCA_SHARED_DATA/nezha``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
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
    args = parser.parse_args(argv)
    if not (args.data / "index.json").is_file():
        print(f"no Nezha data at {args.data} (index.json missing)", file=sys.stderr)
        return 2
    args.out.mkdir(parents=True, exist_ok=True)
    total_s, total_bytes = 0.0, 0
    cases = list_cases(args.data)
    print(f"{'case':<52} {'KiB':>7} {'seconds':>8}")
    for case in cases:
        started = time.perf_counter()
        path = import_case(case, args.out, baseline_root=args.data / "baseline")
        seconds = time.perf_counter() - started
        size = _size(path)
        total_s += seconds
        total_bytes += size
        print(f"{case.name:<52} {size / 1024:>7.0f} {seconds:>8.2f}")
    print(f"{len(cases)} cases into {args.out}: {total_bytes / 2**20:.1f} MiB, {total_s:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

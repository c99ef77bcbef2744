"""False alarms of the traces detectors on fault-free data of the Nezha development cases.

Usage::

    python benchmarks/traces_fault_free.py [BUNDLES_DIR]

For every imported case (``BUNDLES_DIR``, default ``.cache/nezha-bundles``, filled by
``benchmarks/nezha_eval.py``) with two or more reference windows, the first reference window
(fault-free: before the injection, or a baseline day's reference minute) plays the incident
window and the other reference windows the references. Nothing is faulty there, so every
credit at p < 0.001 (-log10 p >= 3) is a false alarm. Prints one line per case (the strongest
credit: evidence, component, detector) and the number of windows with a false alarm per
detector. Nothing is fitted.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.evaluation import find_bundles  # noqa: E402
from agent.factory import open_bundle  # noqa: E402
from tools.significance import SIGNIFICANT  # noqa: E402
from tools.trace_analysis import analyse  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0]) if args else REPO / ".cache" / "nezha-bundles"
    bundles = find_bundles([root])
    if not bundles:
        print(f"no bundles under {root}: run benchmarks/nezha_eval.py first", file=sys.stderr)
        return 2
    windows, alarms = 0, Counter()
    print("| case | window spans | strongest credit (-log10 p) |\n|---|---|---|")
    for path in bundles:
        session = open_bundle(path)
        bundle, ctx = session.require_bundle(), session.context
        refs = ctx.reference_windows()
        if len(refs) < 2 or bundle.spans.empty:
            continue
        window, others = refs[0], refs[1:]
        found = analyse(bundle.spans, ctx.backend.span_logs(window, others), window, others)
        if not found.window_spans:
            continue
        windows += 1
        best = max(found.credits, key=lambda c: c.evidence, default=None)
        for detector in {c.detector for c in found.credits if c.evidence >= SIGNIFICANT}:
            alarms[detector] += 1
        shown = f"{best.evidence:.1f} {best.component} ({best.detector})" if best else "none"
        print(f"| {bundle.incident.id} | {found.window_spans} | {shown} |")
    print(f"\n{windows} fault-free windows; windows with a false alarm (p < 0.001) per detector:")
    for detector, count in sorted(alarms.items()):
        print(f"- {detector}: {count} of {windows}")
    if not alarms:
        print("- none")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

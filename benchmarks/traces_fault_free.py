"""False alarms of the traces detectors on fault-free data of the Nezha development cases.

Usage::

    python benchmarks/traces_fault_free.py [BUNDLES_DIR]

For every imported case (``BUNDLES_DIR``, default ``.cache/nezha-bundles``, filled by
``benchmarks/nezha_eval.py``) with two or more reference windows, the first reference window
(fault-free: before the injection, or a baseline day's reference minute) plays the incident
window and the other reference windows the references. Nothing is faulty there, so every
credit at p < 0.001 (-log10 p >= 3) is a false alarm. Prints one line per case (the strongest
credit: evidence, component, detector, and whether that component is the case's root cause:
the labels are used only to read the result, since a fault that starts before its labelled
injection time leaks into the adjacent reference window), the number of windows with a false
alarm per detector, the strongest credit overall and per-window, and how many windows would
reach the answer level of a typical investigation (:func:`tools.significance.answer_level`
over ``--families`` test families). Nothing is fitted.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.evaluation import find_bundles  # noqa: E402
from agent.factory import open_bundle  # noqa: E402
from tools.significance import SIGNIFICANT, answer_level  # noqa: E402
from tools.trace_analysis import analyse  # noqa: E402


def fault_free_windows(root: Path) -> Iterator[tuple[Any, Any, Any, list[Any]]]:
    """(bundle, investigation context, window, other reference windows) of every case under
    ``root`` with at least two reference windows: the first reference window, which holds no
    injected fault, plays the incident window."""
    for path in find_bundles([root]):
        session = open_bundle(path)
        bundle, ctx = session.require_bundle(), session.context
        refs = ctx.reference_windows()
        if len(refs) >= 2:
            yield bundle, ctx, refs[0], refs[1:]


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    families = 6  # a heuristic Nezha investigation: metrics, logs, traces (3 or 4), changes
    if "--families" in args:
        at = args.index("--families")
        try:
            families = int(args[at + 1])
        except (IndexError, ValueError):
            print("--families needs a whole number (test families)", file=sys.stderr)
            return 2
        del args[at : at + 2]
    root = Path(args[0]) if args else REPO / ".cache" / "nezha-bundles"
    if not find_bundles([root]):
        print(f"no bundles under {root}: run benchmarks/nezha_eval.py first", file=sys.stderr)
        return 2
    windows, alarms, strongest = 0, Counter(), []
    print("| case | window spans | strongest credit (-log10 p) | on the root cause |")
    print("|---|---|---|---|")
    for bundle, ctx, window, others in fault_free_windows(root):
        if bundle.spans.empty:
            continue
        found = analyse(bundle.spans, ctx.backend.span_logs(window, others), window, others)
        if not found.window_spans:
            continue
        windows += 1
        best = max(found.credits, key=lambda c: c.evidence, default=None)
        for detector in {c.detector for c in found.credits if c.evidence >= SIGNIFICANT}:
            alarms[detector] += 1
        shown = f"{best.evidence:.1f} {best.component} ({best.detector})" if best else "none"
        truth = bundle.incident.ground_truth.component if bundle.incident.ground_truth else ""
        on_root = "yes" if best and best.component == truth else ""
        print(f"| {bundle.incident.id} | {found.window_spans} | {shown} | {on_root} |")
        strongest.append((best.evidence if best else 0.0, bool(on_root)))
    print(f"\n{windows} fault-free windows; windows with a false alarm (p < 0.001) per detector:")
    for detector, count in sorted(alarms.items()):
        print(f"- {detector}: {count} of {windows}")
    if not alarms:
        print("- none")
    level = answer_level(families)
    other = [e for e, on_root in strongest if not on_root]
    print(
        f"strongest credit {max(e for e, _ in strongest):.1f}; strongest not on the case's root "
        f"cause {max(other, default=0.0):.1f}; windows at or above the answer level {level:.2f} "
        f"({families} families, 1% per investigation): "
        f"{sum(e >= level for e, _ in strongest)} of {windows} "
        f"({sum(e >= level for e in other)} not on the root cause)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""False alarms of the logs tool's template tests on fault-free data of the Nezha development cases.

Usage::

    python benchmarks/logs_fault_free.py [BUNDLES_DIR] [--aws | --one-reference]

For every imported case (``BUNDLES_DIR``, default ``.cache/nezha-bundles``, filled by
``benchmarks/nezha_eval.py``) with two or more reference windows, the first reference window
(fault-free) plays the incident window and the other reference windows the references, as in
``benchmarks/traces_fault_free.py``. Every component with log groups is tested as the logs tool
tests it (:func:`tools.logs.classify` on the bundle backend's templates, the tool's bin width),
twice: under the Poisson null over lines (the reference bins withheld, the tool before the
per-bin null) and under the per-template null over time bins (negative binomial with the
reference bins' dispersion). Nothing is faulty there, so every surging template and every
component whose strongest new-or-surging template reaches p < 0.001 after the tool's Bonferroni
correction over its templates is a false alarm (a fault that starts before its labelled
injection can leak into the first reference window, so a few may be real). Nothing is fitted.

``--aws`` serves the templates through the AWS backend (:class:`tools.telemetry.aws.AwsBackend`)
over Logs Insights answers replayed from the bundle (:class:`tools.aws.replay.ReplayClients`):
one baseline (the second reference window; the AWS backend serves one), reference bins only for
the most changed templates (their per-bin query over the baseline), the Poisson null for the
others; its "poisson over lines" row is the AWS backend before it counted reference bins.
``--one-reference`` gives the bundle backend the same single baseline, for comparison.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from agent.evaluation import find_bundles  # noqa: E402
from benchmarks.traces_fault_free import fault_free_windows  # noqa: E402
from tools.logs import classify  # noqa: E402
from tools.significance import SIGNIFICANT, bonferroni  # noqa: E402

NULLS = ("poisson over lines", "per-bin negative binomial")


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    aws = "--aws" in args
    one_reference = aws or "--one-reference" in args
    args = [a for a in args if a not in ("--aws", "--one-reference")]
    root = Path(args[0]) if args else REPO / ".cache" / "nezha-bundles"
    if not find_bundles([root]):
        print(f"no bundles under {root}: run benchmarks/nezha_eval.py first", file=sys.stderr)
        return 2
    windows = components = templates = 0
    surging = dict.fromkeys(NULLS, 0)
    alarms = dict.fromkeys(NULLS, 0)
    windows_alarmed = dict.fromkeys(NULLS, 0)
    print("| case | components | templates | surging (Poisson / NB) | alarms (Poisson / NB) |")
    print("|---|---|---|---|---|")
    for bundle, ctx, window, others in fault_free_windows(root):
        bin_seconds = max(60, int(window.seconds // 12) // 60 * 60)
        backend = ctx.backend
        if aws:
            from tools.aws.replay import ReplayClients
            from tools.telemetry.aws import AwsBackend

            backend = AwsBackend(ctx.architecture, ReplayClients(bundle), sleep=lambda _: None)
        if one_reference:
            others = others[:1]
        windows += 1
        row = {n: [0, 0] for n in NULLS}
        n_comp = n_templates = 0
        for element in ctx.architecture.elements.values():
            groups = ctx.architecture.telemetry(element.id).log_groups
            if not groups:
                continue
            result = backend.reference_log_patterns(groups, window, others, bin_seconds)
            if not result.patterns:
                continue
            n_comp += 1
            n_templates += len(result.patterns)
            ratio = window.seconds / (result.baseline_seconds or result.baseline.seconds)
            traffic = (
                result.window_records / (result.baseline_records * ratio)
                if result.baseline_records
                else 1.0
            )
            for name in NULLS:
                best = 0.0
                for p in result.patterns:
                    if name == NULLS[0]:
                        p = p.model_copy(update={"baseline_bins": []})
                    c = classify(p, ratio, window, bin_seconds, traffic)
                    row[name][0] += c.status == "surge"
                    if c.status in ("new", "surge"):
                        best = max(best, c.evidence)
                if bonferroni(best, len(result.patterns)) >= SIGNIFICANT:
                    row[name][1] += 1
        components += n_comp
        templates += n_templates
        for name in NULLS:
            surging[name] += row[name][0]
            alarms[name] += row[name][1]
            windows_alarmed[name] += row[name][1] > 0
        print(
            f"| {bundle.incident.id} | {n_comp} | {n_templates} | "
            f"{row[NULLS[0]][0]} / {row[NULLS[1]][0]} | {row[NULLS[0]][1]} / {row[NULLS[1]][1]} |"
        )
    print(f"\n{windows} fault-free windows, {components} component tests, {templates} templates")
    for name in NULLS:
        print(
            f"- {name}: {surging[name]} surging templates; {alarms[name]} of {components} "
            f"components and {windows_alarmed[name]} of {windows} windows with a false alarm "
            f"(Bonferroni-corrected p < 0.001)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

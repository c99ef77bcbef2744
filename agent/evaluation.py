"""Evaluation of investigations against bundle ground truth, with RCAEval's metrics.

For a case whose true root cause is component ``c`` and whose ranked, de-duplicated list of
hypothesis components is ``r``: ``AC@k`` = 1 when ``c`` is among ``r[:k]``; over a set of cases
AC@k is the mean, and ``Avg@5 = (AC@1 + ... + AC@5) / 5`` (Pham et al., "RCAEval: A Benchmark
for Root Cause Analysis of Microservice Systems with Telemetry Data", WWW 2025 companion).
"""

from __future__ import annotations

import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from pathlib import Path

from pydantic import Field

from agent.factory import InvestigationSetup, open_bundle
from agent.loop import InvestigationLoop
from agent.providers.heuristic import HeuristicProvider
from tools.errors import BundleError, RcaError, UnknownComponentError
from tools.models import Model

K = 5


class CaseResult(Model):
    """The outcome of one evaluated bundle."""

    case: str
    system: str
    fault_kind: str
    truth: str
    ranking: list[str] = Field(description="hypothesis component names, best first, unique")
    rank: int | None = Field(description="1-based rank of the truth, None when absent")
    seconds: float
    error: str | None = None
    confidence: float | None = Field(
        default=None, description="the top hypothesis' confidence (0..1); None without one"
    )

    def hit(self, k: int) -> bool:
        """True when the truth is within the top ``k``."""
        return self.rank is not None and self.rank <= k


class Scores(Model):
    """AC@1, AC@3, Avg@5 of a group of cases, with its size and median seconds per case."""

    group: str
    cases: int
    ac1: float
    ac3: float
    avg5: float
    median_seconds: float


def scores(group: str, results: list[CaseResult]) -> Scores:
    """Aggregate RCAEval metrics over ``results``."""
    n = len(results)
    ac = [sum(r.hit(k) for r in results) / n if n else 0.0 for k in range(1, K + 1)]
    return Scores(
        group=group,
        cases=n,
        ac1=round(ac[0], 3),
        ac3=round(ac[2], 3),
        avg5=round(sum(ac) / K, 3),
        median_seconds=round(statistics.median([r.seconds for r in results]), 2) if n else 0.0,
    )


LoopFor = Callable[[InvestigationSetup], InvestigationLoop]


def heuristic_loop(setup: InvestigationSetup) -> InvestigationLoop:
    """The default evaluation loop: the heuristic investigator on ``setup``."""
    return InvestigationLoop(setup.context, HeuristicProvider(setup.architecture))


def evaluate_case(path: Path, loop_for: LoopFor = heuristic_loop) -> CaseResult:
    """Investigate one bundle with ground truth (with the loop ``loop_for`` builds, default the
    heuristic investigator) and rank its true root cause.

    Raises:
        BundleError: the bundle has no ground truth or is malformed.
    """
    started = time.perf_counter()
    session = open_bundle(path)
    incident = session.require_bundle().incident
    if incident.ground_truth is None:
        raise BundleError(f"{path}: incident.yaml has no ground_truth; cannot evaluate")
    arch = session.architecture
    truth = incident.ground_truth
    system = str(incident.source.get("system") or arch.name)
    try:
        truth_id = arch.get(truth.component).id
    except UnknownComponentError as exc:
        raise BundleError(
            f"{path}: ground truth component {truth.component!r} is not in the workspace"
        ) from exc
    inv = loop_for(session).run(incident.description, investigation_id=incident.id)
    ranking: list[str] = []
    for h in inv.answer.hypotheses if inv.answer else []:
        cid = h.component if h.component in arch.elements else arch.get(h.component).id
        if cid not in ranking:
            ranking.append(cid)
    rank = ranking.index(truth_id) + 1 if truth_id in ranking else None
    top = inv.answer.hypotheses[0] if inv.answer and inv.answer.hypotheses else None
    return CaseResult(
        case=incident.id,
        system=system,
        fault_kind=truth.fault_kind,
        truth=arch.elements[truth_id].name,
        ranking=[arch.elements[c].name for c in ranking],
        rank=rank,
        seconds=round(time.perf_counter() - started, 3),
        confidence=top.confidence if top is not None else None,
    )


def find_bundles(paths: Iterable[Path]) -> list[Path]:
    """Bundles among ``paths``: each path is a bundle or a directory of bundles (sorted)."""
    found: list[Path] = []
    for path in paths:
        if (path / "incident.yaml").is_file():
            found.append(path)
        elif path.is_dir():
            found += sorted(p.parent for p in path.glob("*/incident.yaml"))
    return found


def evaluate(
    paths: Iterable[Path],
    on_case: Callable[[CaseResult], None] | None = None,
    *,
    loop_for: LoopFor = heuristic_loop,
) -> tuple[list[CaseResult], list[Scores]]:
    """Evaluate every bundle; returns per-case results and scores overall, per system, per
    system and fault kind. A case that fails is recorded with its error and counts as a miss."""
    results: list[CaseResult] = []
    for path in find_bundles(paths):
        started = time.perf_counter()
        try:
            result = evaluate_case(path, loop_for)
        except Exception as exc:  # one broken case never aborts the evaluation
            error = str(exc) if isinstance(exc, RcaError) else f"{type(exc).__name__}: {exc}"
            result = CaseResult(
                case=path.name,
                system="?",
                fault_kind="?",
                truth="?",
                ranking=[],
                rank=None,
                seconds=round(time.perf_counter() - started, 3),
                error=" ".join(error.split())[:400],
            )
        results.append(result)
        if on_case:
            on_case(result)
    groups: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        groups["all"].append(r)
        groups[r.system].append(r)
        groups[f"{r.system} / {r.fault_kind}"].append(r)
    return results, [scores(name, members) for name, members in groups.items()]

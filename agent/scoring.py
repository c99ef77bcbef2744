"""The evidence scorer: ranks candidate root-cause components by the strength of their evidence.

Every detector reports evidence on one scale, ``-log10 p`` under an explicit null model
(``Evidence.figures["evidence"]``, the test in ``labels["test"]``; see :mod:`tools.significance`),
already attributed to a component with direction (the traces tool credits a slow edge's callee
by its share of slow inbound edges and its caller by its share of slow edges; a span that stops
after a call credits the callee only when callers agree). The scorer adds no weights of its own:

- **own** evidence (``labels["scope"] == "own"``: resource saturation, span behaviour, error
  origin, edge credits) counts as it is;
- **symptom** evidence (latency, errors, availability, pressure, traffic, log counts, alarms)
  propagates up the call graph, so it counts by the share of the component's dependencies that
  show no significant non-traffic evidence themselves (1 for a leaf, 0 when every dependency is
  anomalous): the deepest anomalous element keeps its symptoms (Microscope, MicroRCA); a
  traffic change propagates the other way (callers drive their callees' traffic), so it counts
  by the share of callers without one; a dependency whose traffic *fell* while this
  component's did not (its calls stopped arriving: a refused connection, a removed network
  rule) accounts for this component's symptoms by the strength of that fall; when spans show
  failures originating below it (``error_origin``) and none originating in it, its failure
  symptoms (errors, availability, log statements) are the dependency's whatever the tests'
  strengths (a span test sees a sample, an error count every request);
- **changes**: a write event mapped to the component (or to an edge into it) before the onset of
  its anomaly is an independent test of the same hypothesis: its timing evidence is combined by
  Fisher's method (:func:`tools.significance.fisher`) with the strongest anomaly it precedes, on
  the component or on its direct callers (the effects a change propagates to, counted by the
  share of the component's symptoms its dependencies do not explain: a change on a victim
  borrows nothing from the victim's callers), when the timing test alone reaches p < 0.1. The
  onset is the earliest significant evidence with an observed time (:func:`timed`; span
  comparisons cover the whole window and have none), else the earliest of the callers'. A
  change on a component without significant evidence adds nothing (that is how decoys are
  ruled out).

A component's score is its strongest evidence (the strongest own item, the share-weighted
strongest symptom, or the Fisher combination with a change); ties break on the second strongest
item, never on names. Below :data:`tools.significance.SIGNIFICANT` (p = 0.001) nothing is
ranked: the answer says there is no significant evidence.

``confidence`` is a softmax over the scores with a "none of these" option at the significance
level. Its temperature is the maximum-likelihood fit on the Train Ticket development cases; the
reliability table of ``benchmarks/nezha_eval.py`` is reported leave-one-system-out (each
system's cases scored with the temperature fitted on the other system).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from agent.explain import category, next_checks, statement
from agent.models import Hypotheses, Hypothesis
from tools import significance
from tools.c4 import ArchitectureModel
from tools.models import Evidence

if TYPE_CHECKING:  # networkx on use, as in tools.c4 (the graph exists once a model is built)
    import networkx as nx

CAUSAL_CHANGE = 0.3  # weight from which a change is named as the cause in statements
ONSET_TOLERANCE_S = 60.0
LEAD_UP_S = 6 * 3600.0  # the changes tool's default lead-up (ToolContext.change_lead_up_s)
CONFIDENCE_TEMPERATURE = 2.0  # fitted (max. likelihood) on Train Ticket, see nezha_eval.py
MAX_HYPOTHESES = 5
CHANGE_LEVEL = -math.log10(0.1)  # a change's timing alone must be at least suggestive (p < 0.1)
SIGNIFICANT = significance.SIGNIFICANT


def strength(ev: Evidence) -> float:
    """The ``-log10 p`` of an evidence item (0 when the tool gave none)."""
    return float(ev.figures.get("evidence", 0.0))


@dataclass
class ComponentSignals:
    """What the evidence says about one component (strengths in -log10 p)."""

    component: str
    own: float = 0.0
    symptom: float = 0.0
    health: float = 0.0
    load: float = 0.0
    dropped: float = 0.0
    origin: float = 0.0
    other_symptom: float = 0.0
    onset: datetime | None = None
    health_evidence: list[Evidence] = field(default_factory=list)
    load_evidence: list[Evidence] = field(default_factory=list)
    steady_evidence: list[Evidence] = field(default_factory=list)
    changes: list[tuple[Evidence, float]] = field(default_factory=list)  # (evidence, weight)
    sources: dict[str, float] = field(default_factory=dict)

    @property
    def anomalous(self) -> bool:
        """Significant evidence of any kind, traffic included."""
        return max(self.own, self.symptom, self.load) >= SIGNIFICANT

    @property
    def unhealthy(self) -> bool:
        """Significant evidence other than a traffic change (which the callers explain)."""
        return max(self.own, self.symptom) >= SIGNIFICANT


def _is_failure(ev: Evidence) -> bool:
    """A failure symptom: an error or availability metric or alarm, or a log statement (a
    caller logs the failed call)."""
    return ev.kind == "log_pattern" or ev.labels.get("role") in ("errors", "availability")


def _is_load(ev: Evidence) -> bool:
    if ev.kind == "log_pattern":
        return ev.labels.get("status") in ("drop", "vanished")
    return ev.labels.get("role") == "load"


def timed(ev: Evidence) -> bool:
    """True when ``ev.time`` is an observed onset. The traces tool compares the whole window
    with the reference windows: its items carry the window start, which is no onset (taken
    as one, every component with span evidence would seem to start at the window start, before
    the deployment that caused it), unless the detector located one (label ``onset``
    ``observed``: the self-time shift's change point, :func:`tools.trace_selftime.onset`)."""
    if ev.time is None:
        return False
    return ev.tool != "traces" or ev.labels.get("onset") == "observed"


def collect(evidence: list[Evidence]) -> dict[str, ComponentSignals]:
    """Per-component strongest own, symptom and traffic evidence, onsets and items (changes
    excluded). Metric moves that are not harmful (e.g. a latency drop) are left out."""
    signals: dict[str, ComponentSignals] = {}
    for ev in evidence:
        if ev.component is None or ev.kind == "change":
            continue
        sig = signals.setdefault(ev.component, ComponentSignals(ev.component))
        if ev.kind in ("metric_steady", "log_steady"):
            sig.steady_evidence.append(ev)
            continue
        if ev.kind == "metric_anomaly" and ev.labels.get("harmful") != "true":
            continue
        value = strength(ev)
        if value <= 0:
            continue
        source = ev.tool + ":" + ev.kind
        sig.sources[source] = max(sig.sources.get(source, 0.0), value)
        if _is_load(ev):
            sig.load = max(sig.load, value)
            if ev.kind == "log_pattern" or ev.labels.get("direction") == "down":
                sig.dropped = max(sig.dropped, value)
            sig.load_evidence.append(ev)
        else:
            if ev.labels.get("scope") == "own":
                sig.own = max(sig.own, value)
                if ev.kind == "error_origin":
                    sig.origin = max(sig.origin, value)
            else:
                sig.symptom = max(sig.symptom, value)
                if not _is_failure(ev):
                    sig.other_symptom = max(sig.other_symptom, value)
            sig.health_evidence.append(ev)
        if value >= SIGNIFICANT and timed(ev) and (sig.onset is None or ev.time < sig.onset):
            sig.onset = ev.time
    for sig in signals.values():
        sig.health_evidence.sort(key=lambda e: -strength(e))
        sig.load_evidence.sort(key=lambda e: -strength(e))
    return signals


@dataclass
class Candidate:
    """A scored component: ``score`` is its strongest evidence in -log10 p; ``victim_of`` the
    dependencies with significant evidence of their own (its symptoms count by the share of
    dependencies without); ``second`` the next strongest item (the tie-break)."""

    component: str
    score: float
    signals: ComponentSignals
    victim_of: list[str] = field(default_factory=list)
    earliest: bool = False
    second: float = 0.0
    symptom_share: float = 1.0


def _change_strength(ev: Evidence, onset: datetime | None) -> float:
    if ev.time is None or onset is None:
        return 0.0
    lead = (onset - ev.time).total_seconds()
    lead_up = ev.figures.get("lead_up_s", LEAD_UP_S)
    m = int(ev.figures.get("changes_examined", 1))
    return significance.change_timing(lead, lead_up, m)


def dependency_graph(arch: ArchitectureModel) -> nx.DiGraph:
    """The graph symptoms are attributed along: the workspace's relationships without people.

    A person is no dependency of the element that relates to them: an e-mail system "sends
    e-mails to" the customer who "uses" the web site, and through that person every element
    would depend on every other one, itself included (its own symptom would then be explained
    by itself). A read-only view of ``arch.graph``."""
    import networkx as nx

    people = {e.id for e in arch.elements.values() if e.kind == "person"}
    return nx.subgraph_view(arch.graph, filter_node=lambda n: n not in people)


def score(
    arch: ArchitectureModel, evidence: list[Evidence], candidates: list[str]
) -> list[Candidate]:
    """Score ``candidates`` (component ids) from ``evidence``; strongest first. Components
    without significant evidence of their own or as symptoms are dropped; those whose evidence
    is all explained by anomalous dependencies stay, below, with a score under
    :data:`SIGNIFICANT`."""
    signals = collect(evidence)
    for cid in candidates:
        signals.setdefault(cid, ComponentSignals(cid))
    for ev in evidence:
        if ev.kind != "change" or ev.component is None:
            continue
        ends = [ev.component] + ([ev.edge[0]] if ev.edge else [])
        ends += [c for c in ev.labels.get("components", "").split(",") if c]
        anomalous = [signals[e] for e in ends if e in signals and signals[e].anomalous]
        if not anomalous:
            continue
        onsets = [s.onset for s in anomalous if s.onset is not None]
        if not onsets:  # window-wide evidence only: the incident's onset is its callers'
            onsets = [
                signals[c].onset
                for e in ends
                if e in arch.graph
                for c in arch.graph.predecessors(e)
                if c in signals and signals[c].onset is not None
            ]
        value = _change_strength(ev, min(onsets) if onsets else None)
        if value > 0:
            signals.setdefault(ev.component, ComponentSignals(ev.component)).changes.append(
                (ev, value)
            )
    import networkx as nx

    graph = dependency_graph(arch)
    reach: dict[str, set[str]] = {}

    def below_of(dep: str, cid: str) -> list[str]:
        # what ``dep`` depends on, with signals, never ``cid`` itself (a cycle back to it)
        if dep not in reach:
            reach[dep] = nx.descendants(graph, dep) if dep in graph else set()
        return [x for x in reach[dep] if x in signals and x != cid]

    results: list[Candidate] = []
    for cid, sig in signals.items():
        if cid not in arch.elements:
            continue
        succ = graph.successors(cid) if cid in graph else []  # a person depends on nothing
        deps = [d for d in succ if d in signals and d != cid]
        # a dependency explains symptoms when it or anything it depends on is unhealthy, or
        # when its traffic fell while this component's did not (the calls stopped arriving)
        steady = sig.load < SIGNIFICANT
        starved = {d for d in deps if steady and signals[d].dropped >= SIGNIFICANT}
        sick = [
            d
            for d in deps
            if signals[d].unhealthy
            or d in starved
            or any(signals[x].unhealthy for x in below_of(d, cid))
        ]
        # the share of the symptom the dependencies cannot account for: a dependency (with
        # what lies below it) accounts for its strength relative to this component's symptom
        below = [
            max(
                [max(signals[d].own, signals[d].symptom, signals[d].dropped * (d in starved))]
                + [max(signals[x].own, signals[x].symptom) for x in below_of(d, cid)]
            )
            for d in sick
        ]
        # the spans say where failures originate: when they originate below this component
        # and never in it, its failure symptoms are the dependency's, whatever the two tests'
        # strengths (span tests see a sample, metric counts every request); what remains is
        # its other symptoms (latency, pressure)
        symptom = sig.symptom
        if sig.origin < SIGNIFICANT and any(
            signals[x].origin >= SIGNIFICANT for d in sick for x in [d, *below_of(d, cid)]
        ):
            symptom = sig.other_symptom
        share = 1.0 - min(1.0, max(below) / symptom) if below and symptom else 1.0
        # traffic propagates the other way: a caller's traffic drives its callees'
        callers = [c for c in arch.graph.predecessors(cid) if c in signals]
        busy = [c for c in callers if signals[c].load >= SIGNIFICANT]
        load_share = 1.0 - len(busy) / len(callers) if callers else 1.0
        items = [sig.own, symptom * share, sig.load * load_share]
        share = symptom * share / sig.symptom if sig.symptom else 1.0  # of all its symptoms
        best = max(items)
        change = max((w for _, w in sig.changes), default=0.0)
        if change >= CHANGE_LEVEL:
            # a change before the onset is the cause of the anomalies it precedes: its own and
            # those of its direct callers (the effects), each an independent test
            when = min(
                ev.time for ev, w in sig.changes if w >= CHANGE_LEVEL and ev.time is not None
            )
            # the callers' symptoms reach them through this component: they are its effects
            # only as far as its own symptoms are not explained by its dependencies
            effects = [
                max(signals[c].own, signals[c].symptom) * share
                for c in arch.graph.predecessors(cid)
                if c in signals and signals[c].onset is not None and signals[c].onset >= when
            ]
            explained = max([best, *effects])
            if explained > 0:
                items.append(significance.fisher([explained, change]))
        ordered = sorted(items, reverse=True)
        sig.health = max(sig.own, sig.symptom)
        cand = Candidate(
            cid, round(ordered[0], 3), sig, victim_of=sick, second=ordered[1], symptom_share=share
        )
        if cand.score >= SIGNIFICANT or sig.anomalous:
            results.append(cand)
    # strongest first; ties: the next strongest item; remaining ties keep the evidence order.
    # Anomalous components whose evidence is explained by their dependencies (victims) follow,
    # by their own unattributed strength.
    results.sort(key=lambda c: (-c.score, -c.second, -max(c.signals.own, c.signals.symptom)))
    return results


def confidence(scores: list[float], value: float) -> float:
    """Probability-like confidence of one candidate, clipped to [0.02, 0.95]: a softmax over
    the candidates' scores (in -log10 p) with temperature :data:`CONFIDENCE_TEMPERATURE` plus a
    "none of these" option at the significance level."""
    top = max([*scores, value, SIGNIFICANT])
    weights = [math.exp((s - top) / CONFIDENCE_TEMPERATURE) for s in scores]
    none = math.exp((SIGNIFICANT - top) / CONFIDENCE_TEMPERATURE)
    p = math.exp((value - top) / CONFIDENCE_TEMPERATURE) / (sum(weights) + none)
    return round(min(0.95, max(0.02, p)), 3)


def propagation_path(arch: ArchitectureModel, root: str, entries: list[str]) -> list[str]:
    """Names from the root cause up to the nearest entry element that depends on it."""
    import networkx as nx

    best: list[str] | None = None
    for entry in entries:
        try:
            path = nx.shortest_path(arch.graph, entry, root)
        except (nx.NetworkXNoPath, nx.NodeNotFound):
            continue
        if best is None or len(path) < len(best):
            best = path
    path = list(reversed(best)) if best else [root]
    return [arch.elements[p].name for p in path]


def to_hypotheses(
    arch: ArchitectureModel, ranked: list[Candidate], entries: list[str]
) -> list[Hypothesis]:
    """Turn scored candidates into ranked :class:`Hypothesis` objects (at most five)."""
    scores = [c.score for c in ranked]
    hypotheses = []
    for rank, cand in enumerate(ranked[:MAX_HYPOTHESES], start=1):
        sig = cand.signals
        supporting = [ev.id for ev, w in sorted(sig.changes, key=lambda x: -x[1]) if w > 0]
        supporting += [e.id for e in sig.health_evidence[:6] + sig.load_evidence[:4]]
        downstream_effects = effects(arch, ranked, cand)
        supporting += [e.id for e in downstream_effects]
        contradicting = [e.id for e in sig.steady_evidence]
        contradicting += [
            ev.id for callee in cand.victim_of for ev in ranked_signals(ranked, callee)[:2]
        ]
        cat = category(cand)
        hypotheses.append(
            Hypothesis(
                rank=rank,
                statement=statement(arch, cand, cat, downstream_effects),
                component=cand.component,
                fault_category=cat,  # type: ignore[arg-type]
                confidence=confidence(scores, cand.score),
                supporting_evidence=list(dict.fromkeys(supporting)),
                contradicting_evidence=list(dict.fromkeys(contradicting)),
                propagation_path=propagation_path(arch, cand.component, entries),
                next_checks=next_checks(arch, cand, cat),
            )
        )
    return hypotheses


def effects(arch: ArchitectureModel, ranked: list[Candidate], cand: Candidate) -> list[Evidence]:
    """Health evidence of the candidate's direct dependents that starts no earlier than its own
    onset: the symptoms the fault propagated to (two items per dependent)."""
    found: list[Evidence] = []
    for caller in arch.graph.predecessors(cand.component):
        for ev in ranked_signals(ranked, caller)[:2]:
            if (
                cand.signals.onset is None
                or ev.time is None
                or (ev.time - cand.signals.onset).total_seconds() >= -ONSET_TOLERANCE_S
            ):
                found.append(ev)
    return found


def annotate(arch: ArchitectureModel, answer: Hypotheses, evidence: list[Evidence]) -> None:
    """Set each hypothesis' ``scorer_confidence`` and re-rank by the mean of the model's and the
    scorer's confidence (stable: ties keep the model's order). Component names become ids."""
    ranked = score(arch, evidence, sorted({e.component for e in evidence if e.component}))
    scores = [c.score for c in ranked]
    by_id = {c.component: c.score for c in ranked}
    for h in answer.hypotheses:
        h.component = arch.get(h.component).id
        h.scorer_confidence = confidence(scores, by_id.get(h.component, 0.0)) if scores else 0.0
    ordered = sorted(
        sorted(answer.hypotheses, key=lambda h: h.rank),
        key=lambda h: -(h.confidence + (h.scorer_confidence or 0.0)) / 2,
    )
    for rank, h in enumerate(ordered, start=1):
        h.rank = rank
    answer.hypotheses = ordered


def ranked_signals(ranked: list[Candidate], component: str) -> list[Evidence]:
    """Health evidence of ``component`` among the ranked candidates (empty when absent)."""
    for cand in ranked:
        if cand.component == component:
            return cand.signals.health_evidence
    return []

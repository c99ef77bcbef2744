"""Words for a scored candidate: its fault category, a one-paragraph statement and next checks."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tools.c4 import ArchitectureModel
from tools.models import Evidence

if TYPE_CHECKING:
    from agent.scoring import Candidate

_LOG_CATEGORIES: list[tuple[str, re.Pattern[str]]] = [
    ("certificate", re.compile(r"certificate|x509|tls handshake|ssl", re.I)),
    (
        "credentials",
        re.compile(
            r"password authentication|authentication failed|access denied|"
            r"invalid credentials|bad credentials|invalid token|"
            r"unauthori[sz]ed|signature does not match",
            re.I,
        ),
    ),
    ("connection_pool", re.compile(r"pool|connection is not available|too many connections", re.I)),
    (
        "dns_routing",
        re.compile(
            r"enotfound|nxdomain|name or service not known|getaddrinfo|"
            r"no such host|resolve",
            re.I,
        ),
    ),
    (
        "capacity",
        re.compile(
            r"throttl|provisionedthroughputexceeded|rate exceeded|"
            r"toomanyrequests|429",
            re.I,
        ),
    ),
    ("resource_exhaustion", re.compile(r"out of memory|oom|heap|killed|memory", re.I)),
    (
        "network_config",
        re.compile(
            r"etimedout|connect timeout|timed out|timeout|"
            r"unreachable|refused",
            re.I,
        ),
    ),
]

_PHRASES = {
    "network_config": "a network configuration change blocks traffic",
    "dns_routing": "a DNS or routing change sends traffic to the wrong place",
    "credentials": "credentials no longer match",
    "certificate": "a TLS certificate problem breaks connections",
    "permissions": "a permission change denies access",
    "deployment": "a deployment introduced a fault",
    "configuration": "a configuration change introduced a fault",
    "capacity": "capacity is exhausted (throttling)",
    "traffic_surge": "a traffic surge overloads it",
    "resource_exhaustion": "a resource (CPU or memory) is exhausted",
    "connection_pool": "its connection pool is exhausted",
    "latency": "it responds slowly",
    "code_error": "it fails with errors",
    "dependency_failure": "a dependency fails",
    "unknown": "it behaves anomalously",
}

_CHECKS = {
    "network_config": "Compare security group / NACL / route rules between {callers} and {name} "
    "with the last known good state and restore the removed rule",
    "dns_routing": "Resolve {name}'s endpoint from a caller and compare the record with its "
    "history (Route 53 change info); roll back the record set change",
    "credentials": "Check that {name} and its clients use the current secret version; "
    "restart or redeploy clients after a rotation",
    "certificate": "Inspect the certificate chain and expiry served by {name}; renew or "
    "re-import the certificate",
    "permissions": "Simulate the affected principal's access (IAM policy simulator) and revert "
    "the policy change",
    "deployment": "Diff the deployed version of {name} against the previous one and roll back",
    "configuration": "Diff {name}'s configuration against the previous version and revert",
    "capacity": "Check {name}'s throttling metrics and limits (provisioned capacity, "
    "concurrency); raise the limit or restore the previous setting",
    "traffic_surge": "Identify the source of the extra requests to {name}; rate-limit or scale",
    "resource_exhaustion": "Inspect {name}'s CPU/memory trend and restarts; capture a heap "
    "profile and scale or roll back",
    "connection_pool": "Check {name}'s pool size against database connections and slow queries",
    "latency": "Trace slow requests of {name} and check its host and network latency",
    "code_error": "Read the new error stack traces of {name} and the recent code changes",
    "dependency_failure": "Check the health of {name}'s dependencies",
    "unknown": "Look at {name}'s logs and metrics around the onset",
}


def category(cand: Candidate) -> str:
    """The most likely fault category of a candidate, from its change or its signals."""
    strong = [ev for ev, w in cand.signals.changes if w > 0.2]
    if strong:
        best = max(cand.signals.changes, key=lambda x: x[1])[0]
        return best.labels.get("category", "configuration")
    text = " ".join(" ".join([e.summary, *e.samples]) for e in cand.signals.health_evidence)
    for name, pattern in _LOG_CATEGORIES:
        if pattern.search(text):
            return name
    roles = {e.labels.get("role") for e in cand.signals.health_evidence}
    loads = [e for e in cand.signals.load_evidence if e.labels.get("direction") == "up"]
    if loads and cand.signals.load >= cand.signals.health * 0.5:
        return "traffic_surge"
    if "saturation" in roles:
        return "resource_exhaustion"
    if "pressure" in roles:
        return "capacity"
    if any(e.kind == "log_pattern" for e in cand.signals.health_evidence):
        return "code_error"
    if "latency" in roles:
        return "latency"
    if "errors" in roles or "availability" in roles:
        return "code_error"
    if cand.signals.load > 0:
        return "dependency_failure"
    return "unknown"


_SAFE = re.compile(r"[^A-Za-z0-9_./()%:-]")


def _safe(text: str, limit: int = 64) -> str:
    """Identifier-like text only (API and metric names): telemetry values never reach a
    statement verbatim, so injected text stays inside the evidence it came from."""
    return _SAFE.sub("", text)[:limit]


def describe(arch: ArchitectureModel, ev: Evidence) -> str:
    """Our own short words for one evidence item, with its id (no raw telemetry text)."""
    name = arch.elements[ev.component].name if ev.component in arch.elements else "?"
    if ev.kind == "change":
        minutes = abs(ev.figures.get("seconds_from_onset", 0.0)) / 60
        side = "before" if ev.figures.get("seconds_from_onset", 0.0) <= 0 else "after"
        where = name
        if ev.edge and all(e in arch.elements for e in ev.edge):
            where = f"the edge {arch.elements[ev.edge[0]].name} -> {arch.elements[ev.edge[1]].name}"
        event = _safe(ev.labels.get("event_name", "a change"))
        return f"{event} on {where} {minutes:.0f} min {side} the onset ({ev.id})"
    if ev.kind == "metric_anomaly":
        series = _safe(ev.labels.get("series", "a metric").split("[")[0])
        verb = "rose" if ev.labels.get("direction") == "up" else "dropped"
        pct = ev.figures.get("change_pct")
        size = f" {abs(pct):.0f}%" if pct is not None else ""
        return f"{series} of {name} {verb}{size} ({ev.id})"
    if ev.kind == "log_pattern":
        status = ev.labels.get("status", "changed")
        kind = "error log pattern" if ev.labels.get("error") == "true" else "log pattern"
        count = int(ev.figures.get("window_count", 0))
        return f"{status} {kind} in {name}, {count}x in the window ({ev.id})"
    if ev.kind == "alarm":
        return f"alarm {_safe(ev.labels.get('alarm', ''))} of {name} fired ({ev.id})"
    return f"{ev.kind} of {name} ({ev.id})"


def statement(
    arch: ArchitectureModel, cand: Candidate, cat: str, effects: list[Evidence] | None = None
) -> str:
    """One paragraph in our own words: the claim, the strongest evidence and the effects on its
    dependents, by evidence id."""
    name = arch.elements[cand.component].name
    parts = [f"{name}: {_PHRASES.get(cat, 'it behaves anomalously')}."]
    changes = sorted(cand.signals.changes, key=lambda x: -x[1])
    if changes and changes[0][1] > 0.05:
        parts.append("Change: " + describe(arch, changes[0][0]) + ".")
    signals = cand.signals.health_evidence[:3] + cand.signals.load_evidence[:1]
    if signals:
        parts.append("Signals: " + "; ".join(describe(arch, e) for e in signals) + ".")
    if effects:
        parts.append("Effects: " + "; ".join(describe(arch, e) for e in effects[:3]) + ".")
    if cand.victim_of:
        deps = ", ".join(arch.elements[c].name for c in cand.victim_of)
        parts.append(f"Caution: its dependencies {deps} are also anomalous.")
    return " ".join(parts)[:2000]


def next_checks(arch: ArchitectureModel, cand: Candidate, cat: str) -> list[str]:
    """Concrete follow-up checks for an engineer."""
    name = arch.elements[cand.component].name
    callers = ", ".join(arch.elements[c].name for c in arch.graph.predecessors(cand.component))
    checks = [_CHECKS.get(cat, _CHECKS["unknown"]).format(name=name, callers=callers or "callers")]
    if cand.victim_of:
        checks.append(
            "Rule out the dependencies first: "
            + ", ".join(arch.elements[c].name for c in cand.victim_of)
        )
    return checks

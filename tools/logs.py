"""The ``logs`` tool: log templates of a component in the window versus the baseline.

The backend mines templates (Drain3 on bundles, Logs Insights ``pattern`` on AWS) and counts each
in the window and in the baseline. A template's expected window count is its baseline count scaled
by the ratio of period lengths (lambda). Log lines are not independent trials: one request writes
several lines and retries come in bursts, so a template's count varies between time bins more than
a Poisson count would. The null model is therefore fitted per template on the reference periods'
counts per time bin (the tool's ``bin_seconds``, a twelfth of the window in whole minutes and at
least 60 s, or the largest of 60/30/15/10/5 s that leaves the references 8 whole bins:
:func:`tools.telemetry.base.reference_bin_seconds`): the variance-to-mean ratio ``phi`` of those
counts
(:func:`tools.significance.index_of_dispersion`; 1 with fewer than 8 bins, no baseline occurrence,
or no overdispersion, and for templates whose backend gives no reference bins: on AWS, Logs
Insights ``pattern`` and ``diff`` return one count per pattern and period, so only the most
changed templates, which get a per-bin query over the window and the baseline, have them, see
:meth:`tools.telemetry.aws.AwsBackend.log_patterns`). The deviation is the score
``z = (k - lambda) / sqrt(phi * lambda + 1)`` (the Poisson-style score when ``phi`` is 1), and
the evidence the negative binomial tail with that variance
(:func:`tools.significance.negative_binomial`).
A template is *new* when absent from the baseline (k >= 3), *surging* when z >= 4 and
k >= 2 lambda, *dropped* when lambda >= 5 and k <= lambda / 4, and *vanished* when it drops even
against the component's own overall log rate (see :func:`classify`).
A new or surging WARN/ERROR template is the writer's reaction to a failed dependency, and
evidence against that dependency (edge writer -> dependency), when it names exactly one direct
dependency (:func:`named_dependency`) or, with spans, when its records follow failed or slow
calls to one service in their spans (:func:`tools.trace_analysis.reaction_targets`).
Samples are redacted before they leave the tool.
"""

from __future__ import annotations

import math
import re
from datetime import timedelta

from pydantic import Field

from tools import significance
from tools.context import ToolContext, ToolResult
from tools.loglevel import log_level
from tools.models import Evidence, Model, TimeWindow, iso
from tools.redact import redact
from tools.telemetry.base import LogPattern

MIN_NEW = 3
SURGE_Z = 4.0
MAX_PATTERNS_PER_COMPONENT = 6
MAX_LISTED = 25
"""Changes per component listed in the tool's data (``max_patterns`` is at most this)."""

_ERROR_LITERALS = (
    *("error", "exception", "fail", "timeout", "timed out", "refused", "denied", "unavailable"),
    *("expired", "invalid", "fatal", "panic", "throttl", "enotfound", "etimedout", "econnreset"),
    *("unreachable", "out of memory", "oom", "killed", "not available", "rejected"),
    *("unauthorised", "unauthorized", "forbidden", "traceback", "severe", "critical"),
)
_ERROR_CODE = re.compile(r"\b5\d\d\b")
ERROR_WORDS = re.compile(
    "|".join(re.escape(w) for w in _ERROR_LITERALS) + "|" + _ERROR_CODE.pattern, re.I
)
"""Words that make a log line read as an error (any case), or an HTTP 5xx status."""


class LogsInput(Model):
    """Arguments of the ``logs`` tool."""

    components: list[str] = Field(min_length=1, max_length=30, description="element names or ids")
    window: TimeWindow | None = Field(default=None, description="default: the incident window")
    pattern: str | None = Field(
        default=None, max_length=200, description="only templates containing this text"
    )
    max_patterns: int = Field(default=MAX_PATTERNS_PER_COMPONENT, ge=1, le=25)


class PatternChange(Model):
    """How one template changed between baseline and window."""

    template: str
    status: str = Field(description="new, surge, drop or steady")
    error: bool
    window_count: int
    baseline_count: int
    expected: float
    z: float
    evidence: float = Field(
        default=0.0,
        description="-log10 p of the count under the add-one expected count, negative binomial "
        "with variance dispersion * mean (Poisson when the dispersion is 1)",
    )
    dispersion: float = Field(
        default=1.0, description="variance-to-mean ratio of the baseline's counts per time bin"
    )
    first_seen: str | None = None
    onset: str | None = Field(default=None, description="when the change started (UTC)")
    bins: list[int] = Field(default_factory=list)
    samples: list[str] = Field(default_factory=list)
    span_links: list[str] = Field(
        default_factory=list, description="trace_id/span_id of sample records (bundle v2)"
    )


def _surge_onset(
    bins: list[int], expected: float, window: TimeWindow | None, bin_seconds: int
) -> str | None:
    """Start of the first time bin whose count is at least twice its share of the expected
    count plus two (the surge's onset); None without bins."""
    if not bins or window is None:
        return None
    per_bin = expected / len(bins)
    for index, count in enumerate(bins):
        if count >= 2 * per_bin + 2:
            return iso(window.start + timedelta(seconds=index * bin_seconds))
    return None


def _dispersion(pattern: LogPattern) -> float:
    """``phi`` of the pattern's reference bins (1 without them or without baseline counts)."""
    if not pattern.baseline_count:
        return 1.0
    return significance.index_of_dispersion(pattern.baseline_bins)


def _status(
    pattern: LogPattern, ratio: float, traffic: float, phi: float = 1.0
) -> tuple[str, float, float]:
    """``(status, expected window count, z)`` of a pattern with dispersion ``phi`` (see
    :func:`classify`)."""
    k = pattern.window_count
    expected = pattern.baseline_count * ratio
    z = (k - expected) / math.sqrt(phi * expected + 1.0)
    if pattern.baseline_count == 0 and k >= MIN_NEW:
        status = "new"
    elif z >= SURGE_Z and k >= 2 * expected:
        status = "surge"
    elif expected >= 5 and k <= expected / 4:
        status = "vanished" if expected * traffic >= 5 and k <= expected * traffic / 4 else "drop"
    else:
        status = "steady"
    return status, expected, z


def _error(pattern: LogPattern) -> bool:
    """Whether the template or its first sample reads as an error (:data:`ERROR_WORDS`).

    ASCII text (nearly every line) is tested by substring on its lower case, which for ASCII is
    exactly what the case-insensitive regex matches, and many times faster; other text (where
    ``re.I`` also folds e.g. the Kelvin sign to ``k``) by the regex."""
    text = pattern.template + " " + " ".join(pattern.samples[:1])
    if text.isascii():
        lower = text.lower()
        return any(w in lower for w in _ERROR_LITERALS) or _ERROR_CODE.search(text) is not None
    return bool(ERROR_WORDS.search(text))


def classify(
    pattern: LogPattern,
    ratio: float,
    window: TimeWindow | None = None,
    bin_seconds: int = 60,
    traffic: float = 1.0,
) -> PatternChange:
    """Classify a pattern; ``ratio`` = window length / baseline length; ``traffic`` = the
    component's overall record rate in the window relative to the baseline.

    A dropped template is *vanished* when it also drops against the component's own traffic
    (``k <= lambda * traffic / 4``, with ``lambda * traffic >= 5``): that code path stopped, or
    that kind of request stopped arriving, while the component kept logging otherwise.

    ``onset`` is the first occurrence for a new pattern, and the start of the first time bin
    that surges for a surging one (its first occurrence may predate the surge).

    ``z`` and ``evidence`` use the template's dispersion ``phi`` over its reference bins
    (``pattern.baseline_bins``, module docstring): an ordinary burst of a bursty template is
    not a surge, while one many times its bursts still is.
    """
    k = pattern.window_count
    phi = _dispersion(pattern)
    status, expected, z = _status(pattern, ratio, traffic, phi)
    lam = (pattern.baseline_count + 1) * ratio
    if status in ("drop", "vanished"):
        strength = significance.negative_binomial(k, lam, phi, lower=True)
    elif status in ("new", "surge"):
        strength = significance.negative_binomial(k, lam, phi)
    else:
        strength = 0.0
    first_seen = iso(pattern.first_seen) if pattern.first_seen else None
    return PatternChange(
        template=redact(pattern.template),
        status=status,
        error=_error(pattern),
        window_count=k,
        baseline_count=pattern.baseline_count,
        expected=round(expected, 2),
        z=round(z, 2),
        evidence=round(strength, 3),
        dispersion=round(phi, 2),
        first_seen=first_seen,
        onset=(
            first_seen
            if status == "new"
            else _surge_onset(pattern.bins, expected, window, bin_seconds)
            if status == "surge"
            else None
        ),
        bins=pattern.bins,
        samples=[redact(s)[:500] for s in pattern.samples],
        span_links=list(pattern.span_links),
    )


def _classify_ranked(
    patterns: list[LogPattern],
    ratio: float,
    window: TimeWindow,
    bin_seconds: int,
    traffic: float,
    keep: int | None,
) -> list[PatternChange]:
    """:func:`classify` every pattern, changed before steady, then errors first, then by
    ``|z|`` (rounded as in :class:`PatternChange`) descending, stable; keep the first ``keep``
    (all when None). The order needs only the status, the error flag and z, so only the
    patterns kept are classified in full (redacted, tested)."""
    keys = []
    for p in patterns:
        status, _expected, z = _status(p, ratio, traffic, _dispersion(p))
        keys.append((status == "steady", not _error(p), -abs(round(z, 2))))
    order = sorted(range(len(patterns)), key=keys.__getitem__)
    if keep is not None:
        order = order[:keep]
    return [classify(patterns[i], ratio, window, bin_seconds, traffic) for i in order]


MIN_NAME = 4
"""Shortest resource name matched in log text (shorter ones match ordinary words)."""


def dependency_names(ctx: ToolContext, element_id: str) -> dict[str, re.Pattern[str]]:
    """The direct dependencies of an element (C4 relationships from it) -> a pattern that
    matches a mention of one in log text: its element name, or the last segment of one of its
    ``rca.resources`` (a function, table, queue or host name; at least :data:`MIN_NAME`
    characters), as a whole word, any case."""
    arch = ctx.architecture
    out: dict[str, re.Pattern[str]] = {}
    for dep in arch.graph.successors(element_id):
        if dep == element_id or dep not in arch.elements:
            continue
        names = {arch.elements[dep].name}
        for resource in arch.telemetry(dep).resources:
            last = re.split(r"[:/]", resource.rstrip("/"))[-1]
            if len(last) >= MIN_NAME:
                names.add(last)
        words = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
        out[dep] = re.compile(rf"(?<![\w-])(?:{words})(?![\w-])", re.I)
    return out


def _new_warning(change: PatternChange) -> bool:
    """A new or surging template that reads as an error or is written at WARN or above."""
    erring = change.error or log_level(change.template) in ("WARN", "ERROR", "FATAL")
    return erring and change.status in ("new", "surge")


def named_dependency(change: PatternChange, names: dict[str, re.Pattern[str]]) -> str | None:
    """The one direct dependency that a new or surging error template names in its samples
    (the caller's reaction to a failed call: ``Call to X failed``, ``X throttled the request;
    retrying``); None when it names none or several. Such a statement is evidence against the
    dependency it names, not against the component that wrote it."""
    if not names or not _new_warning(change):
        return None
    text = " ".join([change.template, *change.samples])
    named = [dep for dep, pattern in names.items() if pattern.search(text)]
    return named[0] if len(named) == 1 else None


def _reactions(
    ctx: ToolContext, window: TimeWindow, references: list[TimeWindow]
) -> dict[tuple[str, str], str]:
    """:func:`tools.trace_analysis.reaction_targets` over the backend's spans and span-linked
    statements of ``window`` and ``references``; empty without spans. Only spans the backend
    holds (a bundle): the logs tool never queries a live span source (X-Ray calls belong to the
    traces tool and its role; the traces tool makes the same attribution there)."""
    if ctx.backend.name != "bundle":
        return {}
    spans = ctx.backend.spans(
        TimeWindow(
            start=min(r.start for r in [window, *references]),
            end=max(r.end for r in [window, *references]),
        )
    )
    if spans is None or spans.empty:
        return {}
    from tools.trace_analysis import reaction_targets  # pandas: only when there are spans

    return reaction_targets(spans, ctx.backend.span_logs(window, references), window, references)


def logs(ctx: ToolContext, args: LogsInput) -> ToolResult:
    """New, surging and dropped log templates per component.

    ``data.components`` maps component id -> ``{"log_groups", "window_records",
    "baseline_records", "changes": [PatternChange...]}`` with significant changes first.

    Raises:
        UnknownComponentError: a component does not resolve.
        TelemetryError: the backend failed.
    """
    window = args.window or ctx.window
    baseline = ctx.baseline if args.window is None else window.previous()
    references = ctx.reference_windows() if args.window is None else [baseline]
    evidence: list[Evidence] = []
    per_component: dict[str, dict[str, object]] = {}
    unmapped: list[str] = []
    lines: list[str] = []
    partial = False
    reactions: dict[tuple[str, str], str] | None = None
    for ref in args.components:
        element = ctx.architecture.get(ref)
        groups = ctx.architecture.telemetry(element.id).log_groups
        if not groups:
            unmapped.append(element.name)
            continue
        bin_seconds = max(60, int(window.seconds // 12) // 60 * 60)
        result = ctx.backend.reference_log_patterns(groups, window, references, bin_seconds)
        ratio = window.seconds / (result.baseline_seconds or baseline.seconds)
        partial = partial or result.partial
        traffic = (
            result.window_records / (result.baseline_records * ratio)
            if result.baseline_records
            else 1.0
        )
        # without a text filter only the first MAX_LISTED changes are ever used
        changes = _classify_ranked(
            result.patterns,
            ratio,
            window,
            bin_seconds,
            traffic,
            None if args.pattern else MAX_LISTED,
        )
        n_templates = len(result.patterns)
        if args.pattern:
            needle = args.pattern.lower()
            changes = [
                c
                for c in changes
                if needle in c.template.lower() or any(needle in s.lower() for s in c.samples)
            ]
            n_templates = len(changes)
        searched = (
            f"log groups {', '.join(groups)}; window {window.label()} vs reference "
            f"{', '.join(r.label() for r in references)}; {result.query}"
            + (f"; filter {args.pattern!r}" if args.pattern else "")
            + f"; {result.records_scanned} records, {result.bytes_scanned} bytes scanned"
        )
        notable = [c for c in changes if c.status != "steady"][: args.max_patterns]
        names = dependency_names(ctx, element.id)
        for c in notable:
            about, how = named_dependency(c, names), "names its dependency"
            if about is None and _new_warning(c) and " " in c.template:
                # a keyed statement (``LEVEL logger#line``) written right after failed or
                # slow calls to one service in its spans is the caller's reaction to it
                if reactions is None:
                    reactions = _reactions(ctx, window, references)
                callee = reactions.get((element.name, c.template.split(" ", 1)[1]))
                if callee is not None and ctx.architecture.has(callee):
                    about = ctx.architecture.get(callee).id
                    how = "follows failed or slow calls in its spans to"
            text = (
                f"{element.name}: {c.status} {'error ' if c.error else ''}pattern "
                f"'{c.template[:240]}' {c.window_count}x in window vs {c.baseline_count}x in "
                f"baseline (expected {c.expected:g}, z {c.z:+.1f})"
                + (f", from {c.onset}" if c.onset else "")
            )
            if about is not None:
                text += (
                    f"; the statement {how} {ctx.architecture.elements[about].name} (a reaction "
                    "to failed calls to it: evidence against it)"
                )
            lines.append(text)
            evidence.append(
                ctx.ledger.add(
                    tool="logs",
                    kind="log_pattern",
                    component=about or element.id,
                    edge=(element.id, about) if about else None,
                    summary=text,
                    searched=searched,
                    window=window,
                    time=c.onset,
                    figures={
                        "evidence": significance.bonferroni(c.evidence, max(1, n_templates)),
                        "window_count": c.window_count,
                        "baseline_count": c.baseline_count,
                        "expected": c.expected,
                        "z": c.z,
                        "dispersion": c.dispersion,
                    },
                    labels={
                        "status": c.status,
                        "error": str(c.error).lower(),
                        "test": (
                            f"negative binomial count (dispersion {c.dispersion:g} over the "
                            "baseline's time bins)"
                            if c.dispersion > 1
                            else "Poisson count"
                        )
                        + " vs the add-one baseline rate (Bonferroni over "
                        f"{n_templates} templates)",
                        "scope": "symptom",
                        **({"written_by": element.id} if about else {}),
                        **({"span_links": ",".join(c.span_links)} if c.span_links else {}),
                    },
                    samples=c.samples,
                    partial=result.partial,
                )
            )
        if not notable:
            if result.window_records + result.baseline_records == 0:
                kind, text = "no_data", f"{element.name}: no log records in window or baseline"
            else:
                kind = "log_steady"
                text = (
                    f"{element.name}: {n_templates} templates, none new or changed "
                    f"({result.window_records} records in window, "
                    f"{result.baseline_records} in baseline)"
                )
            lines.append(text)
            evidence.append(
                ctx.ledger.add(
                    tool="logs",
                    kind=kind,
                    component=element.id,
                    summary=text,
                    searched=searched,
                    window=window,
                    figures={
                        "window_records": result.window_records,
                        "baseline_records": result.baseline_records,
                    },
                    partial=result.partial,
                )
            )
        per_component[element.id] = {
            "log_groups": groups,
            "window_records": result.window_records,
            "baseline_records": result.baseline_records,
            "missing_groups": result.missing_groups,
            "changes": [c.model_dump() for c in changes[:MAX_LISTED]],
        }
    if unmapped:
        lines.append("No log groups mapped (rca.logGroups) for: " + ", ".join(unmapped))
    if partial:
        lines.append("Partial results: the log source did not return everything (see evidence).")
    has_signal = any(e.kind == "log_pattern" for e in evidence)
    return ToolResult(
        tool="logs",
        status="ok" if has_signal else "no_data",
        params=args.model_dump(mode="json", exclude_none=True),
        summary="\n".join(lines),
        evidence=evidence,
        data={"components": per_component, "unmapped": unmapped, "window": window.label()},
    )

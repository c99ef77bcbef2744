"""The seeded scenario generator: a scenario spec (:mod:`scenarios.spec`) -> an incident bundle.

``generate(spec, out_dir)`` writes a gzip bundle with :class:`tools.bundle.BundleWriter`:

- **metrics**: 1-minute datapoints of every component series from 6 h before the window to its
  end. Traffic per component follows a cosine daily shape with AR(1) noise; counts (per-minute
  Sums) are Poisson draws of traffic x rate, gauges (Averages, Maximums, percentiles) a level
  coupled to traffic with Gaussian noise. Fault and decoy effects scale, add to, set or re-rate a
  series (or a component's traffic) from a time relative to the onset, with a linear ramp.
- **logs**: from the baseline start (one window length before the window) to the window end,
  rendered from each component's templates (request ids, VINs, user ids, durations, IPs) in the
  log format of its runtime (Node.js or Python Lambda, Spring Boot, Go slog, PostgreSQL, MySQL,
  raw JSON), with fault lines added and normal lines scaled by the effects.
- **CloudTrail**: the causal change, its follow-up calls and the decoy changes as real-shaped
  records (userIdentity, requestParameters and responseElements of each API), plus background
  read-only calls and benign writes (CreateLogStream, SSM agent heartbeats, tagging, console
  logins, AssumeRole, KMS) from 6.5 h before the window.
- **alarms**: state changes whenever a configured alarm's M-of-N condition flips.

Every random draw comes from a numpy ``Generator`` seeded with the spec's seed and a label (per
component, series, log group), so output is byte-identical on re-run and editing one series leaves
the others unchanged. No wall-clock time is used.

Run ``python -m scenarios.generator [--out DIR] [--only ID ...]`` to regenerate the shipped bundles.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import shutil
import sys
import zlib
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np

from scenarios.rand import HEX, chars, rng_for, uuid4
from scenarios.spec import (
    BUNDLES_DIR,
    METRICS_LEAD_MIN,
    WORKSPACES_DIR,
    AlarmDef,
    ComponentSpec,
    LogGroupDef,
    MetricDef,
    MetricEffect,
    ScenarioSpec,
    ScenarioSpecError,
    load_spec,
    shipped_specs,
)
from scenarios.trail import TrailBuilder
from tools.bundle import (
    AlarmStateChange,
    BundleWriter,
    GroundTruth,
    IncidentSpec,
    LogRecord,
    MetricPoint,
)
from tools.c4 import ArchitectureModel
from tools.errors import WorkspaceError
from tools.models import iso

GENERATOR = "scenarios.generator/1"

_State = Literal["OK", "ALARM"]

_PLACEHOLDER = re.compile(r"\$\{([a-z]+)(?::([^}]*))?\}")
_VIN_CHARS = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
_ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789"
_PER_LINE = frozenset({"rid", "uuid", "trace", "vin", "user", "ip", "port", "ts", "epoch"})


def _progress(rel: np.ndarray, start: float, ramp: float, end: float | None) -> np.ndarray:
    """Effect strength (0..1) per minute; ``rel`` is minutes from the onset."""
    if ramp > 0:
        p = np.clip((rel - start + 1.0) / (ramp + 1.0), 0.0, 1.0)
        p = np.where(rel >= start, p, 0.0)
    else:
        p = (rel >= start).astype(float)
    if end is not None:
        p = np.where(rel < end, p, 0.0)
    return p


def _apply(
    values: np.ndarray, op: str, value: float, p: np.ndarray, traffic: np.ndarray | None
) -> np.ndarray:
    if op == "scale":
        return values * (1.0 + (value - 1.0) * p)
    if op == "add":
        return values + value * p
    if op == "set":
        return values + (value - values) * p
    if traffic is None:  # pragma: no cover - the spec rejects 'rate' without traffic
        raise ScenarioSpecError("op 'rate' needs a per_request metric of a component with traffic")
    return values + (traffic * value - values) * p


# ------------------------------------------------------------------ workspace


def _element_by_name(arch: ArchitectureModel, name: str) -> str | None:
    for element in arch.elements.values():
        if element.name == name:
            return element.id
    return None


def check_against_workspace(spec: ScenarioSpec, arch: ArchitectureModel) -> None:
    """Check that the spec's components, series and log groups are mapped in the workspace.

    Raises:
        ScenarioSpecError: a component is not an element (by exact name), a series matches none of
            its element's ``rca.metrics`` selectors, a log group is not in ``rca.logGroups``, the
            ground truth has no telemetry, or the symptom resolves to no element.
    """
    where = f"scenario {spec.id!r} / workspace {spec.workspace!r}"
    for comp in spec.components:
        eid = _element_by_name(arch, comp.name)
        if eid is None:
            names = ", ".join(sorted(e.name for e in arch.elements.values()))
            raise ScenarioSpecError(
                f"{where}: component {comp.name!r} is no element of the workspace ({names})"
            )
        tele = arch.telemetry(eid)
        for m in comp.metrics:
            if not any(s.matches(m.namespace, m.metric, m.dimensions) for s in tele.metrics):
                raise ScenarioSpecError(
                    f"{where}: {comp.name} series {m.namespace}/{m.metric} {m.dimensions} matches "
                    "none of the element's rca.metrics selectors; add a selector or fix the spec"
                )
        for g in comp.logs:
            if g.group not in tele.log_groups:
                raise ScenarioSpecError(
                    f"{where}: {comp.name} log group {g.group!r} is not in its rca.logGroups "
                    f"({', '.join(tele.log_groups) or 'none'})"
                )
    truth = _element_by_name(arch, spec.ground_truth.component)
    if truth is None or arch.telemetry(truth).empty:
        raise ScenarioSpecError(
            f"{where}: ground truth {spec.ground_truth.component!r} must be an element with "
            "telemetry (rca.logGroups, rca.metrics or rca.resources)"
        )
    if not arch.resolve(spec.symptom):
        raise ScenarioSpecError(
            f"{where}: the symptom {spec.symptom!r} resolves to no element; use words of element "
            "names, aliases or descriptions"
        )


# ----------------------------------------------------------------- log lines


class LineRenderer:
    """Renders log templates: fills ``${...}`` placeholders and adds the runtime's line prefix."""

    def __init__(self, rng: np.random.Generator, vins: Sequence[str], users: Sequence[str]):
        self.rng = rng
        self.vins = vins
        self.users = users
        self._threads = [f"nio-8080-exec-{i}" for i in range(1, 201)]

    def _value(self, name: str, args: str | None, when: datetime) -> str:
        rng = self.rng
        parts = args.split(":") if args else []
        if name in ("rid", "uuid"):
            return uuid4(rng)
        if name == "trace":
            return f"1-{int(when.timestamp()):08x}-{chars(rng, HEX, 24)}"
        if name == "vin":
            return self.vins[int(rng.integers(len(self.vins)))]
        if name == "user":
            return self.users[int(rng.integers(len(self.users)))]
        if name == "ip":
            fixed = [p for p in (args or "10.20").split(".") if p]
            rest = [str(int(x)) for x in rng.integers(1, 255, 4 - len(fixed))]
            return ".".join(fixed + rest)
        if name == "port":
            return str(int(rng.integers(32768, 61000)))
        if name == "int":
            return str(int(rng.integers(int(float(parts[0])), int(float(parts[1])) + 1)))
        if name == "ms":
            sigma = float(parts[1]) if len(parts) > 1 else 0.45
            return str(max(1, round(float(parts[0]) * math.exp(sigma * rng.standard_normal()))))
        if name == "float":
            decimals = int(float(parts[2])) if len(parts) > 2 else 2
            return f"{rng.uniform(float(parts[0]), float(parts[1])):.{decimals}f}"
        if name == "hex":
            return chars(rng, HEX, int(float(parts[0])))
        if name == "id":
            return parts[0] + chars(rng, _ID_CHARS, int(float(parts[1])))
        if name == "choice":
            options = (args or "").split("|")
            return options[int(rng.integers(len(options)))]
        if name == "ts":
            return _iso_ms(when)
        if name == "epoch":
            return str(int(when.timestamp()))
        raise ScenarioSpecError(f"unknown placeholder ${{{name}}}")  # pragma: no cover

    def fill(self, text: str, when: datetime, cache: dict[str, str]) -> str:
        def sub(match: re.Match[str]) -> str:
            token, name = match.group(0), match.group(1)
            if name not in _PER_LINE:
                return self._value(name, match.group(2), when)
            if token not in cache:
                cache[token] = self._value(name, match.group(2), when)
            return cache[token]

        return _PLACEHOLDER.sub(sub, text)

    def line(self, fmt: str, text: str, level: str, when: datetime) -> str:
        """One rendered log line in format ``fmt``."""
        cache: dict[str, str] = {}
        body = self.fill(text, when, cache)
        if fmt == "lambda-node":
            rid = cache.get("${rid}") or self.fill("${rid}", when, cache)
            lvl = {"FATAL": "ERROR"}.get(level, level)
            return f"{_iso_ms(when)}\t{rid}\t{lvl}\t{body}"
        if fmt == "lambda-python":
            rid = cache.get("${rid}") or self.fill("${rid}", when, cache)
            lvl = {"WARN": "WARNING", "FATAL": "CRITICAL"}.get(level, level)
            return f"[{lvl}]\t{_iso_ms(when)}\t{rid}\t{body}"
        if fmt == "spring":
            thread = self._threads[int(self.rng.integers(len(self._threads)))]
            lvl = {"FATAL": "ERROR"}.get(level, level)
            return f"{_iso_ms(when)} {lvl:>5} 1 --- [{thread:>15}] {body}"
        if fmt == "logfmt":
            lvl = {"FATAL": "ERROR"}.get(level, level)
            return f"time={_iso_ms(when)} level={lvl} {body}"
        if fmt == "postgres":
            return f"{when:%Y-%m-%d %H:%M:%S} UTC:{body}"
        if fmt == "mysql":
            return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond:06d}Z {body}"
        return body


def _iso_ms(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _streams(rng: np.random.Generator, group: LogGroupDef, when: datetime) -> list[str]:
    base = group.group.rstrip("/").split("/")[-1]
    if group.format.startswith("lambda"):
        return [f"{when:%Y/%m/%d}/[$LATEST]{chars(rng, HEX, 32)}" for _ in range(group.streams)]
    if group.format in ("spring", "logfmt"):
        return [f"ecs/{base}/{chars(rng, HEX, 32)}" for _ in range(group.streams)]
    if group.format in ("postgres", "mysql"):
        parts = group.group.strip("/").split("/")
        instance = parts[-2] if len(parts) >= 2 else base
        return [instance]
    return [f"{base}-{i}" for i in range(group.streams)]


# ------------------------------------------------------------------ simulation


class Simulation:
    """Generates every telemetry stream of one spec."""

    def __init__(self, spec: ScenarioSpec):
        self.spec = spec
        self.n = METRICS_LEAD_MIN + spec.window_min
        self.times = [spec.metrics_start + timedelta(minutes=i) for i in range(self.n)]
        self.hours = np.array([t.hour + t.minute / 60.0 for t in self.times])
        self.rel = np.arange(self.n, dtype=float) - (METRICS_LEAD_MIN + spec.fault.onset_min)
        self.log_from = METRICS_LEAD_MIN - spec.window_min
        pools = rng_for(spec.seed, "pools")
        wmi = ["WBA", "WBA", "WBA", "WBY", "WMW"]
        self.vins = [
            wmi[int(pools.integers(len(wmi)))] + chars(pools, _VIN_CHARS, 14) for _ in range(2500)
        ]
        self.users = ["u-" + chars(pools, _ID_CHARS, 10) for _ in range(4000)]
        self.traffic: dict[str, np.ndarray] = {}
        self.values: dict[tuple[str, tuple[Any, ...]], np.ndarray] = {}

    # --------------------------------------------------------------- traffic
    def _traffic(self, comp: ComponentSpec) -> np.ndarray:
        if comp.name in self.traffic:
            return self.traffic[comp.name]
        tr = comp.traffic
        if tr is None:
            flat = np.ones(self.n)
            self.traffic[comp.name] = flat
            return flat
        rng = rng_for(self.spec.seed, "traffic", comp.name)
        nominal = tr.rpm * (
            1 + tr.daily_amplitude * np.cos(2 * np.pi * (self.hours - tr.peak_hour) / 24)
        )
        phi = 0.6
        shocks = rng.normal(0.0, tr.noise, self.n) * math.sqrt(1 - phi * phi)
        noise = np.empty(self.n)
        noise[0] = rng.normal(0.0, tr.noise)
        for i in range(1, self.n):
            noise[i] = phi * noise[i - 1] + shocks[i]
        values = nominal * np.clip(1.0 + noise, 0.05, None)
        for effect in self.spec.all_metric_effects():
            if effect.component == comp.name and effect.metric is None:
                p = _progress(self.rel, effect.start_min, effect.ramp_min, effect.end_min)
                values = _apply(values, effect.op, effect.value, p, None)
        values = np.clip(values, 0.0, None)
        self.traffic[comp.name] = values
        return values

    def _ratio(self, comp: ComponentSpec) -> np.ndarray:
        traffic = self._traffic(comp)
        return traffic / comp.traffic.rpm if comp.traffic else traffic

    # --------------------------------------------------------------- metrics
    def _effects_for(self, comp: ComponentSpec, m: MetricDef) -> list[MetricEffect]:
        out = []
        for effect in self.spec.all_metric_effects():
            if effect.component != comp.name or effect.metric != m.metric:
                continue
            dims = effect.dimensions or {}
            if all(m.dimensions.get(k) == v for k, v in dims.items()):
                out.append(effect)
        return out

    def series(self, comp: ComponentSpec, m: MetricDef) -> np.ndarray:
        """The final values of one series (cached: alarms read the same values)."""
        key = (comp.name, m.key)
        if key in self.values:
            return self.values[key]
        rng = rng_for(
            self.spec.seed,
            "metric",
            comp.name,
            m.namespace,
            m.metric,
            json.dumps(m.dimensions, sort_keys=True),
        )
        traffic = self._traffic(comp)
        if m.per_request is not None:
            x = traffic * m.per_request
        elif m.per_minute is not None:
            x = np.full(self.n, m.per_minute)
        else:
            level = float(m.level or 0.0)
            if comp.traffic is not None and m.load_coupling:
                x = level * (1 + m.load_coupling * (traffic / comp.traffic.rpm - 1))
            else:
                x = np.full(self.n, level)
        noise = np.full(self.n, m.noise)
        for effect in self._effects_for(comp, m):
            p = _progress(self.rel, effect.start_min, effect.ramp_min, effect.end_min)
            x = _apply(x, effect.op, effect.value, p, traffic)
            if effect.noise is not None:
                noise = noise + (effect.noise - noise) * p
        if m.is_count:
            values = rng.poisson(np.clip(x, 0.0, None)).astype(float)
        else:
            values = x * (1.0 + rng.standard_normal(self.n) * noise)
        if m.min is not None or m.max is not None:
            values = np.clip(values, m.min, m.max)
        values = np.round(values, m.decimals)
        self.values[key] = values
        return values

    def metric_points(self) -> list[MetricPoint]:
        points = []
        for comp in self.spec.components:
            for m in comp.metrics:
                values = self.series(comp, m)
                points += [
                    MetricPoint(
                        timestamp=t,
                        namespace=m.namespace,
                        metric=m.metric,
                        dimensions=m.dimensions,
                        value=float(v),
                        unit=m.unit,
                    )
                    for t, v in zip(self.times, values, strict=True)
                ]
        return points

    # ---------------------------------------------------------------- alarms
    def alarm_changes(self) -> list[AlarmStateChange]:
        out = []
        for comp in self.spec.components:
            for alarm in comp.alarms:
                m = comp.metric(alarm.metric, alarm.dimensions)
                out += self._evaluate(alarm, m, self.series(comp, m))
        return out

    def _evaluate(
        self, alarm: AlarmDef, m: MetricDef, values: np.ndarray
    ) -> list[AlarmStateChange]:
        ops: dict[str, tuple[Callable[[np.ndarray, float], np.ndarray], str]] = {
            "GreaterThanThreshold": (np.greater, "greater than"),
            "GreaterThanOrEqualToThreshold": (np.greater_equal, "greater than or equal to"),
            "LessThanThreshold": (np.less, "less than"),
            "LessThanOrEqualToThreshold": (np.less_equal, "less than or equal to"),
        }
        compare, words = ops[alarm.comparison]
        breach = compare(values, alarm.threshold)
        n, m_of = alarm.evaluation_periods, alarm.datapoints
        delay = timedelta(seconds=60 + zlib.crc32(alarm.name.encode()) % 40)
        state: _State = "OK"
        out = []
        for i in range(n - 1, self.n):
            recent = breach[i - n + 1 : i + 1]
            new: _State = "ALARM" if int(recent.sum()) >= m_of else "OK"
            if new == state:
                continue
            idx = list(range(i, i - n, -1))
            shown = [j for j in idx if breach[j]] if new == "ALARM" else [i]
            points = ", ".join(
                f"{values[j]:.1f} ({self.times[j]:%d/%m/%y %H:%M:%S})" for j in shown
            )
            if new == "ALARM":
                reason = (
                    f"Threshold Crossed: {len(shown)} out of the last {n} datapoints [{points}] "
                    f"were {words} the threshold ({alarm.threshold:.1f}) (minimum {m_of} "
                    f"datapoint{'s' if m_of > 1 else ''} for OK -> ALARM transition)."
                )
            else:
                reason = (
                    f"Threshold Crossed: 1 out of the last {n} datapoints [{points}] was not "
                    f"{words} the threshold ({alarm.threshold:.1f}) (minimum 1 datapoint for "
                    "ALARM -> OK transition)."
                )
            out.append(
                AlarmStateChange(
                    alarm_name=alarm.name,
                    timestamp=self.times[i] + delay,
                    old_state=state,
                    new_state=new,
                    reason=reason,
                    namespace=m.namespace,
                    metric=m.metric,
                    dimensions=m.dimensions,
                )
            )
            state = new
        return out

    # ------------------------------------------------------------------ logs
    def log_records(self) -> dict[str, list[LogRecord]]:
        out: dict[str, list[LogRecord]] = {}
        for comp in self.spec.components:
            for group in comp.logs:
                out[group.group] = self._group_records(comp, group)
        return out

    def _group_records(self, comp: ComponentSpec, group: LogGroupDef) -> list[LogRecord]:
        rng = rng_for(self.spec.seed, "logs", comp.name, group.group)
        renderer = LineRenderer(rng, self.vins, self.users)
        streams = _streams(rng, group, self.spec.logs_start)
        span = slice(self.log_from, self.n)
        ratio = self._ratio(comp)
        total_weight = sum(t.weight or 0.0 for t in group.templates)
        effects = [
            e
            for e in self.spec.all_log_effects()
            if e.component == comp.name and comp.log_group(e.group).group == group.group
        ]
        planned: list[tuple[str, str, np.ndarray]] = []
        for template in group.templates:
            if template.weight is not None:
                lam = group.lines_per_min * ratio * template.weight / total_weight
            else:
                lam = np.full(self.n, template.per_min or 0.0)
            for e in effects:
                if e.op == "scale" and e.match and e.match in template.text:
                    p = _progress(self.rel, e.start_min, e.ramp_min, e.end_min)
                    lam = lam * (1.0 + (float(e.value or 0.0) - 1.0) * p)
            planned.append((template.text, template.level, rng.poisson(lam[span])))
        for e in effects:
            if e.op != "add":
                continue
            p = _progress(self.rel, e.start_min, e.ramp_min, e.end_min)
            lam = float(e.per_min or 0.0) * p * (ratio if e.follow_traffic else 1.0)
            planned.append((str(e.text), e.level, rng.poisson(lam[span])))
        records = []
        for text, level, counts in planned:
            for j, count in enumerate(counts):
                minute = self.times[self.log_from + j]
                for ms in np.sort(rng.integers(0, 60_000, int(count))):
                    when = minute + timedelta(milliseconds=int(ms))
                    records.append(
                        LogRecord(
                            timestamp=when,
                            message=renderer.line(group.format, text, level, when),
                            stream=streams[int(rng.integers(len(streams)))],
                        )
                    )
        return records


# ------------------------------------------------------------------- bundles


def _prepare(out: Path) -> None:
    if out.exists():
        if not out.is_dir():
            raise ScenarioSpecError(f"{out}: exists and is not a directory")
        if any(out.iterdir()) and not (out / "incident.yaml").is_file():
            raise ScenarioSpecError(
                f"{out}: exists, is not empty and is not an incident bundle; refusing to replace it"
            )
        shutil.rmtree(out)
    out.mkdir(parents=True)


def generate(spec: ScenarioSpec | Path | str, out_dir: Path | str) -> Path:
    """Write the bundle of one scenario to ``out_dir`` (replacing a bundle already there).

    Raises:
        ScenarioSpecError: the spec is invalid or does not fit its workspace, or ``out_dir``
            holds something other than a bundle.
        WorkspaceError: the workspace file cannot be loaded.
    """
    if not isinstance(spec, ScenarioSpec):
        spec = load_spec(spec)
    workspace_path = WORKSPACES_DIR / spec.workspace
    try:
        arch = ArchitectureModel.load(workspace_path)
    except WorkspaceError as exc:
        raise ScenarioSpecError(f"scenario {spec.id!r}: {exc}") from exc
    check_against_workspace(spec, arch)
    workspace = json.loads(workspace_path.read_text(encoding="utf-8"))

    sim = Simulation(spec)
    out = Path(out_dir)
    _prepare(out)
    writer = BundleWriter(out, gzip_files=True)
    writer.add_metrics(sim.metric_points())
    for group, records in sim.log_records().items():
        writer.add_logs(group, records)
    trail = TrailBuilder(spec)
    causal_id: str | None = None
    for role, change in spec.all_changes():
        record = trail.change(change)
        if role == "causal":
            causal_id = record["eventID"]
        writer.add_cloudtrail(record)
    for record in trail.background():
        writer.add_cloudtrail(record)
    for alarm in sim.alarm_changes():
        writer.add_alarm(alarm)

    source: dict[str, Any] = {
        "generator": GENERATOR,
        "spec": f"scenarios/specs/{spec.id}.yaml",
        "seed": spec.seed,
        "system": spec.system,
        "workspace": spec.workspace,
        "fault_onset": iso(spec.onset),
    }
    if causal_id:
        source["causal_event_id"] = causal_id
    incident = IncidentSpec(
        id=spec.id,
        title=spec.title,
        description=spec.symptom,
        window=spec.window,
        ground_truth=GroundTruth(
            component=spec.ground_truth.component,
            fault_kind=spec.ground_truth.fault_kind,
            detail=spec.ground_truth.detail,
        ),
        source=source,
    )
    return writer.write(incident, workspace)


def generate_all(out_root: Path | str = BUNDLES_DIR, only: Sequence[str] = ()) -> list[Path]:
    """Regenerate every shipped scenario (or those whose id is in ``only``) under ``out_root``.

    Raises:
        ScenarioSpecError: a spec is invalid, or ``only`` names an unknown scenario.
    """
    specs = shipped_specs()
    known = {p.stem for p in specs}
    unknown = sorted(set(only) - known)
    if unknown:
        raise ScenarioSpecError(f"unknown scenario(s) {unknown}; known: {sorted(known)}")
    root = Path(out_root)
    return [generate(p, root / p.stem) for p in specs if not only or p.stem in only]


def bundle_bytes(path: Path) -> int:
    """Total size of the files of a bundle directory."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m scenarios.generator",
        description="Regenerate the shipped scenario bundles from their specs (deterministic).",
    )
    parser.add_argument("--out", type=Path, default=BUNDLES_DIR, help="output root directory")
    parser.add_argument("--only", action="append", default=[], help="scenario id (repeatable)")
    args = parser.parse_args(argv)
    try:
        paths = generate_all(args.out, args.only)
    except ScenarioSpecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in paths:
        print(f"wrote {path} ({bundle_bytes(path) / 1024:.0f} KiB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

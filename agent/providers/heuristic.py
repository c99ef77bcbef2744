"""The heuristic investigator: a deterministic planner and evidence scorer, no LLM.

Plan (each step is one loop turn, tools of a step run in parallel):

1. ``architecture`` with the symptom: the entry elements and everything they depend on;
2. ``metrics`` and ``logs`` for every element on that affected path that has telemetry;
3. ``changes`` timed against the earliest harmful onset;
4. ``submit_hypotheses`` with the candidates ranked by :mod:`agent.scoring`.
"""

from __future__ import annotations

import re

from agent.models import Hypotheses, Hypothesis, Step, ToolCall
from agent.providers.base import SUBMIT_TOOL, LoopState, ModelProvider, Turn
from agent.scoring import (
    CONFIDENCE_TEMPERATURE,
    SIGNIFICANT,
    Candidate,
    confidence,
    score,
    to_hypotheses,
)
from tools import significance
from tools.c4 import ArchitectureModel
from tools.models import Evidence

CHUNK = 30  # components per metrics/logs call (the tools' input limit)
_REQUERY = re.compile(r"\b(again|re-?check|re-?query|refresh|re-?run|latest)\b", re.I)


def state_window(state: LoopState, edge: str) -> str:
    """The incident window edge (``start``/``end``) used by earlier metrics calls, ISO 8601."""
    for step in state.prior:
        for ex in step.executions:
            window = ex.result.data.get("window") if ex.result.data else None
            if isinstance(window, str) and ".." in window:
                start, end = window.split("..")
                return start if edge == "start" else end
    raise ValueError("no earlier window in the session")


def _families(steps: list[Step]) -> int:
    """Test families the investigation's evidence tools ran (a tool result's ``families``,
    else one per call): what :func:`tools.significance.answer_level` corrects over."""
    total = 0
    for step in steps:
        for ex in step.executions:
            if ex.call.name in ("metrics", "logs", "traces", "changes"):
                total += int((ex.result.data or {}).get("families", 1) or 1)
    return max(1, total)


def _executions(steps: list[Step], tool: str) -> list[dict]:
    return [
        {"input": ex.call.input, "result": ex.result}
        for step in steps
        for ex in step.executions
        if ex.call.name == tool
    ]


def _chunks(items: list[str]) -> list[list[str]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)]


class HeuristicProvider(ModelProvider):
    """Plans tool calls from the architecture and ranks hypotheses with the evidence scorer."""

    name = "heuristic"

    def __init__(self, architecture: ArchitectureModel, focus: list[str] | None = None) -> None:
        """``focus``: extra component names or ids to examine besides the affected path.

        Raises:
            UnknownComponentError: a focus component is not in the workspace.
        """
        self.arch = architecture
        self.focus = [architecture.get(ref).id for ref in focus or []]
        self._steps: list[Step] = []

    def _affected(self, state: LoopState) -> tuple[list[str], list[str]]:
        entries: list[str] = []
        affected: list[str] = []
        for ex in _executions(state.prior + state.steps, "architecture"):
            result = ex["result"]
            if result.status == "ok":
                entries += [e["id"] for e in result.data["entries"]]
                affected += result.data["affected"]
        affected += self.focus
        with_telemetry = [c for c in dict.fromkeys(affected) if not self.arch.telemetry(c).empty]
        if not with_telemetry:  # symptom unresolved: look at everything that has telemetry
            with_telemetry = [e.id for e in self.arch.with_telemetry()]
        return entries, with_telemetry

    def next_turn(self, state: LoopState) -> Turn:
        self._steps = state.prior + state.steps
        if state.prior:
            return self._follow_up(state)
        calls = {ex.call.name for step in state.steps for ex in step.executions}
        n = len(state.steps)
        if "architecture" not in calls:
            return Turn(
                thought="Resolve the symptom to the architecture and find the affected path.",
                tool_calls=[
                    ToolCall(id=f"h{n}-0", name="architecture", input={"symptom": state.question})
                ],
            )
        entries, affected = self._affected(state)
        if "metrics" not in calls:
            with_logs = [c for c in affected if self.arch.telemetry(c).log_groups]
            tool_calls = [
                ToolCall(id=f"h{n}-m{i}", name="metrics", input={"components": chunk})
                for i, chunk in enumerate(_chunks(affected))
            ] + [
                ToolCall(id=f"h{n}-l{i}", name="logs", input={"components": chunk})
                for i, chunk in enumerate(_chunks(with_logs))
            ]
            tool_calls.append(ToolCall(id=f"h{n}-t", name="traces", input={}))
            return Turn(
                thought=f"Check metrics, logs and spans of the {len(affected)} elements on the "
                "path.",
                tool_calls=tool_calls,
            )
        evidence = self._evidence(state)
        if "changes" not in calls:
            onsets = [
                e.time
                for e in evidence
                if e.time is not None
                and (e.labels.get("harmful") == "true" or e.labels.get("error") == "true")
            ]
            args: dict[str, object] = {}
            if onsets:
                args["onset"] = min(onsets).isoformat()
            return Turn(
                thought="Look for control-plane changes before the onset.",
                tool_calls=[ToolCall(id=f"h{n}-0", name="changes", input=args)],
            )
        return Turn(
            thought="Rank the candidates by anomaly, topology, precedence and changes.",
            tool_calls=[
                ToolCall(
                    id=f"h{n}-submit",
                    name=SUBMIT_TOOL,
                    input=self.answer(evidence, entries, affected).model_dump(mode="json"),
                )
            ],
        )

    @staticmethod
    def _evidence(state: LoopState) -> list[Evidence]:
        steps = state.prior + state.steps
        return [ev for step in steps for ex in step.executions for ev in ex.result.evidence]

    def _mentioned(self, question: str) -> list[str]:
        matches = self.arch.resolve(question)
        if not matches:
            return []
        top = matches[0].score
        return [
            m.element.id
            for m in matches[:3]
            if m.score >= 0.5 * top and not self.arch.telemetry(m.element.id).empty
        ]

    def _follow_up(self, state: LoopState) -> Turn:
        """A follow-up in a session: examine components the question names that have not been
        examined yet (or again, when asked to re-check), then answer from all the evidence."""
        n = len(state.steps)
        mentioned = self._mentioned(state.question)
        evidence = self._evidence(state)
        examined = {e.component for e in evidence if e.tool in ("metrics", "logs")}
        requery = bool(_REQUERY.search(state.question))
        todo = [c for c in mentioned if requery or c not in examined]
        called = {ex.call.name for step in state.steps for ex in step.executions}
        if todo and "metrics" not in called:
            extra: dict[str, object] = {}
            if requery:  # an explicit window makes the call new, so it is not blocked as a repeat
                extra["window"] = {
                    "start": state_window(state, "start"),
                    "end": state_window(state, "end"),
                }
            with_logs = [c for c in todo if self.arch.telemetry(c).log_groups]
            calls = [ToolCall(id=f"f{n}-m", name="metrics", input={"components": todo, **extra})]
            if with_logs:
                calls.append(
                    ToolCall(id=f"f{n}-l", name="logs", input={"components": with_logs, **extra})
                )
            names = ", ".join(self.arch.elements[c].name for c in todo)
            return Turn(thought=f"Examine {names} as asked.", tool_calls=calls)
        entries, affected = self._affected(state)
        answer = self.answer(evidence, entries, list(dict.fromkeys(affected + mentioned)))
        answer.summary = self._focus_summary(answer, mentioned, evidence) or answer.summary
        return Turn(
            thought="Answer the follow-up from all the evidence gathered so far.",
            tool_calls=[
                ToolCall(id=f"f{n}-submit", name=SUBMIT_TOOL, input=answer.model_dump(mode="json"))
            ],
        )

    def _focus_summary(
        self, answer: Hypotheses, mentioned: list[str], evidence: list[Evidence]
    ) -> str:
        parts = []
        ranks = {h.component: h for h in answer.hypotheses}
        for cid in mentioned:
            name = self.arch.elements[cid].name
            if cid in ranks:
                h = ranks[cid]
                parts.append(
                    f"{name} is hypothesis #{h.rank} (confidence {h.confidence:.2f}), supported "
                    f"by {', '.join(h.supporting_evidence[:4]) or 'no evidence'}."
                )
            else:
                own = [e.id for e in evidence if e.component == cid]
                parts.append(
                    f"{name} shows no anomaly that makes it a candidate"
                    + (f" (see {', '.join(own[:4])})." if own else " (no evidence about it).")
                )
        if not parts:
            return ""
        top = answer.hypotheses[0]
        lead = (
            self.arch.elements[top.component].name
            if top.component in self.arch.elements
            else top.component
        )
        return " ".join(parts) + f" Most likely root cause remains {lead}."

    def answer(
        self, evidence: list[Evidence], entries: list[str], affected: list[str]
    ) -> Hypotheses:
        """Rank hypotheses from the evidence (also used for partial answers)."""
        ranked = score(self.arch, evidence, affected)
        families = _families(self._steps)
        level = significance.answer_level(families)
        if not ranked or ranked[0].score < level:
            ranked = []  # nothing significant after attribution: do not rank noise
        hypotheses = to_hypotheses(self.arch, ranked, entries)
        gaps = self._gaps(state_steps=self._steps, affected=affected, ranked=ranked)
        if not hypotheses:
            names = ", ".join(self.arch.elements[c].name for c in affected[:10])
            entry = entries[0] if entries else (affected[0] if affected else "unknown")
            hypotheses = [
                Hypothesis(
                    rank=1,
                    statement=(
                        f"No significant evidence (no finding reaches -log10 p {level:.1f}, the "
                        f"level that keeps false alarms at {significance.FALSE_ALARM_RATE:.0%} "
                        f"per investigation over its {families} test families) on the affected "
                        f"path ({names}); ranking "
                        "the noise would mislead. The cause may lie outside the modelled "
                        "telemetry or outside the window."
                    ),
                    component=entry,
                    confidence=0.02,
                    supporting_evidence=[],
                    contradicting_evidence=[e.id for e in evidence if e.kind.endswith("steady")][
                        :10
                    ],
                    next_checks=["Widen the window or name more components to check"],
                )
            ]
        top = hypotheses[0]
        name = (
            self.arch.elements[top.component].name
            if top.component in self.arch.elements
            else top.component
        )
        summary = (
            f"Most likely root cause: {name} ({top.fault_category}, "
            f"confidence {top.confidence:.2f})."
            if ranked
            else "No significant evidence: no component is ranked."
        )
        return Hypotheses(summary=summary, hypotheses=hypotheses, gaps=gaps)

    def _gaps(
        self, state_steps: list[Step], affected: list[str], ranked: list[Candidate]
    ) -> list[str]:
        """What could not be checked, from the tool results, and why a low confidence is low."""
        gaps: list[str] = []
        for step in state_steps:
            for ex in step.executions:
                result = ex.result
                if result.status == "error":
                    gaps.append(f"{ex.call.name} failed: {(result.error or '')[:200]}")
                for gap in (result.data or {}).get("gaps", []) if result.data else []:
                    gaps.append(f"{ex.call.name}: {str(gap)[:200]}")
        no_logs = [
            self.arch.elements[c].name for c in affected if not self.arch.telemetry(c).log_groups
        ]
        if no_logs:
            gaps.append(
                f"no log groups mapped for {len(no_logs)} component(s): " + ", ".join(no_logs[:8])
            )
        if ranked:
            scores = [c.score for c in ranked]
            top = ranked[0]
            conf = confidence(scores, top.score)
            if conf < 0.5:
                why = []
                if len(ranked) > 1 and ranked[1].score >= top.score - CONFIDENCE_TEMPERATURE:
                    runner = self.arch.elements[ranked[1].component].name
                    why.append(
                        f"{runner} has nearly as strong evidence ({ranked[1].score:.1f} vs "
                        f"{top.score:.1f} -log10 p)"
                    )
                if top.score < 2 * SIGNIFICANT:
                    why.append(f"the strongest evidence is weak ({top.score:.1f} -log10 p)")
                if top.victim_of:
                    deps = ", ".join(self.arch.elements[c].name for c in top.victim_of[:3])
                    why.append(f"its dependencies {deps} are anomalous too")
                gaps.append(
                    f"low confidence ({conf:.2f}): " + ("; ".join(why) or "evidence is spread")
                )
        return list(dict.fromkeys(gaps))[:30]

"""Feedback given on answers (in Slack) turned into evaluation cases.

A *confirmed* answer is a session whose latest feedback is ``helpful`` (the truth is the top
hypothesis of the turn it judged) or ``wrong`` with a real root cause that names a component of
the session's architecture (matched by id, then by exact display name, case-insensitive, then by
the name appearing as a whole phrase in the statement). Wrong answers without a resolvable
component are listed with ``truth=None`` and are not exported as bundles.

:func:`export_cases` writes ``cases.jsonl`` (one :class:`FeedbackCase` per line) and, for
sessions on an incident bundle, a copy of the bundle whose ``incident.yaml`` carries the
window, the question as description and the confirmed ``ground_truth``, so ``rca eval DIR``
scores the investigator on the cases people confirmed.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from agent.sessions import SessionRecord
from tools.c4 import ArchitectureModel
from tools.errors import RcaError
from tools.models import Model

if TYPE_CHECKING:
    from agent.service import InvestigationService


class FeedbackCase(Model):
    """One session with feedback, as an evaluation case."""

    session: str
    question: str
    verdict: str
    truth: str | None = None
    truth_name: str | None = None
    fault_category: str | None = None
    real_root_cause: str | None = None
    source_kind: str
    bundle: str | None = None


def _resolve(text: str, arch: ArchitectureModel) -> str | None:
    folded = text.strip().casefold()
    for eid, element in arch.elements.items():
        if folded in (eid.casefold(), element.name.casefold()):
            return eid
    hits = [
        eid
        for eid, element in arch.elements.items()
        if re.search(rf"(?<!\w){re.escape(element.name.casefold())}(?!\w)", folded)
    ]
    return max(hits, key=lambda e: len(arch.elements[e].name)) if hits else None


def case_of(record: SessionRecord, arch: ArchitectureModel | None) -> FeedbackCase | None:
    """The evaluation case of ``record`` from its latest feedback (None without feedback)."""
    if not record.feedback:
        return None
    fb = record.feedback[-1]
    turn = record.turns[min(fb.turn, len(record.turns)) - 1]
    truth = category = None
    if fb.verdict == "helpful" and turn.answer and turn.answer.hypotheses:
        top = turn.answer.hypotheses[0]
        truth, category = top.component, top.fault_category
    elif fb.real_root_cause and arch is not None:
        truth = _resolve(fb.real_root_cause, arch)
    name = arch.elements[truth].name if arch and truth in arch.elements else truth
    return FeedbackCase(
        session=record.id,
        question=record.turns[0].question,
        verdict=fb.verdict,
        truth=truth,
        truth_name=name,
        fault_category=category,
        real_root_cause=fb.real_root_cause,
        source_kind=str(record.source.get("kind")),
    )


def _write_bundle(record: SessionRecord, case: FeedbackCase, out: Path) -> Path:
    src = Path(str(record.source["path"]))
    dest = out / re.sub(r"[^A-Za-z0-9._-]", "_", record.id)
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(src, dest)
    incident_path = dest / "incident.yaml"
    incident = yaml.safe_load(incident_path.read_text(encoding="utf-8")) or {}
    incident["id"] = dest.name
    incident["description"] = case.question
    incident["window"] = {
        "start": record.window.start.isoformat(),
        "end": record.window.end.isoformat(),
    }
    incident["baseline"] = {
        "start": record.baseline.start.isoformat(),
        "end": record.baseline.end.isoformat(),
    }
    incident["ground_truth"] = {
        "component": case.truth_name,
        "fault_kind": case.fault_category or "confirmed_in_slack",
        "detail": case.real_root_cause,
    }
    incident_path.write_text(yaml.safe_dump(incident, sort_keys=False), encoding="utf-8")
    return dest


def export_cases(service: InvestigationService, out: Path) -> list[FeedbackCase]:
    """Write every session with feedback as a case under ``out`` (see the module doc).

    Raises:
        RcaError: ``out`` cannot be written.
    """
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RcaError(f"cannot create {out}: {exc.strerror}") from exc
    cases: list[FeedbackCase] = []
    for key, _created, _question in service.sessions():
        record = service.get(key)
        case = case_of(record, service.architecture(record))
        if case is None:
            continue
        if (
            case.truth
            and case.source_kind == "bundle"
            and Path(str(record.source["path"])).is_dir()
        ):
            case.bundle = str(_write_bundle(record, case, out))
        cases.append(case)
    with (out / "cases.jsonl").open("w", encoding="utf-8") as fh:
        for case in cases:
            fh.write(case.model_dump_json() + "\n")
    return cases

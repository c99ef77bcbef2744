"""Block Kit for investigation answers, rendered from :class:`agent.view.AnswerView`.

Every untrusted string (question, names, statements, evidence, gaps, notes) passes
:func:`tools.markup.mrkdwn` or :func:`tools.markup.mrkdwn_code` after :func:`tools.redact.redact`,
so no mention, broadcast, link or formatting can come from telemetry or from a Slack user.

Limits respected (Slack Block Kit reference, "Blocks" and each block's page): at most 50 blocks
a message; a section's text at most 3,000 characters and a field at most 2,000 (at most 10
fields); a context block at most 10 elements; a header's plain text at most 150 characters; a
button's text at most 75 characters and its value at most 2,000. Slack also rejects messages
whose blocks add up to roughly 13,000 characters (``msg_blocks_too_long``, reported in
slackapi/bolt-js#2509), so a message is kept under :data:`MAX_MESSAGE_CHARS`. When something is
cut, the message ends with a visible "truncated, see the report" context line.
"""

from __future__ import annotations

import json
from typing import Any

from agent.view import AnswerView, EvidenceLine, HypothesisView
from tools.markup import mrkdwn, mrkdwn_code
from tools.redact import redact

MAX_BLOCKS = 50
MAX_SECTION_TEXT = 3000
MAX_FIELD_TEXT = 2000
MAX_CONTEXT_ELEMENTS = 10
MAX_CONTEXT_TEXT = 2000
MAX_HEADER_TEXT = 150
MAX_BUTTON_TEXT = 75
MAX_MESSAGE_CHARS = 12000
TRUNCATED = "… truncated, see the report (Incident report button or `rca report`)"

Block = dict[str, Any]


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def safe(text: str | None, limit: int) -> str:
    """Untrusted text as inert mrkdwn, redacted, at most ``limit`` characters after escaping."""
    return _cut(mrkdwn(redact(text or "")), limit)


def code(text: str | None, limit: int) -> str:
    """Untrusted text in an inline code span, redacted, at most ``limit`` characters."""
    raw = redact(text or "")
    out = mrkdwn_code(raw)
    while len(out) > limit and raw:
        raw = raw[: int(len(raw) * limit / len(out)) - 1]
        out = mrkdwn_code(raw + "…")
    return out


def section(text: str) -> Block:
    """A mrkdwn section (text already escaped by the caller; cut to 3,000 characters)."""
    return {"type": "section", "text": {"type": "mrkdwn", "text": _cut(text, MAX_SECTION_TEXT)}}


def context(*texts: str) -> Block:
    """A context block of up to 10 mrkdwn elements (each cut to 2,000 characters)."""
    return {
        "type": "context",
        "elements": [
            {"type": "mrkdwn", "text": _cut(t, MAX_CONTEXT_TEXT)}
            for t in texts[:MAX_CONTEXT_ELEMENTS]
            if t
        ],
    }


def button(text: str, action_id: str, value: dict[str, Any], style: str | None = None) -> Block:
    """A button whose value is compact JSON (at most 2,000 characters)."""
    payload = json.dumps(value, separators=(",", ":"))
    if len(payload) > 2000:
        raise ValueError(f"button value of {len(payload)} characters is over Slack's 2,000")
    element: Block = {
        "type": "button",
        "text": {"type": "plain_text", "text": _cut(text, MAX_BUTTON_TEXT)},
        "action_id": action_id,
        "value": payload,
    }
    if style:
        element["style"] = style
    return element


def _evidence_line(ev: EvidenceLine, label: str) -> str:
    return f"*{ev.id}* {label}: {code(ev.summary, 600)}"


def _hypothesis(h: HypothesisView, key: str) -> list[Block]:
    head = (
        f"*#{h.rank} {safe(h.component, 200)}* · {code(h.fault_category, 40)} · "
        f"confidence {h.confidence:.2f}"
    )
    lines = [head, safe(h.statement, 1800)]
    if h.propagation_path:
        lines.append("Path: " + safe(" → ".join(h.propagation_path), 400))
    for check in h.next_checks[:3]:
        lines.append("Next: " + safe(check, 300))
    against = {e.id for e in h.contradicting}
    deciding = [
        _evidence_line(ev, "contradicts" if ev.id in against else "supports") for ev in h.deciding
    ]
    more = len(h.supporting) + len(h.contradicting) - len(h.deciding)
    if more > 0:
        deciding.append(f"+{more} more evidence lines (Show evidence)")
    value = {"k": key, "r": h.rank}
    blocks: list[Block] = [section("\n".join(lines))]
    if deciding:
        blocks.append(context(*deciding))
    blocks.append(
        {
            "type": "actions",
            "block_id": f"hyp-{h.rank}",
            "elements": [
                button("Dig deeper", "rca_dig", value),
                button("Show evidence", "rca_evidence", value),
            ],
        }
    )
    return blocks


def _size(value: object) -> int:
    """Characters of ``value`` as JSON (non-ASCII counted as one character each)."""
    return len(json.dumps(value, ensure_ascii=False))


def fit(blocks: list[Block], tail: list[Block] | None = None) -> list[Block]:
    """``blocks`` cut to Slack's limits (50 blocks, :data:`MAX_MESSAGE_CHARS` characters) with
    ``tail`` (e.g. the action buttons) always kept at the end; when anything was dropped a
    "truncated, see the report" context line precedes the tail."""
    tail = tail or []
    budget_blocks = MAX_BLOCKS - len(tail) - 1
    budget_chars = MAX_MESSAGE_CHARS - _size(tail) - 200
    kept: list[Block] = []
    used = 0
    for block in blocks:
        size = _size(block)
        if len(kept) >= budget_blocks or used + size > budget_chars:
            return [*kept, context(TRUNCATED), *tail]
        kept.append(block)
        used += size
    return [*kept, *tail]


def answer_blocks(view: AnswerView, key: str) -> list[Block]:
    """The Block Kit message of an answer: header, summary, each hypothesis (statement, path,
    next checks, deciding evidence, Dig deeper / Show evidence), gaps, notes, and the
    Incident report / Helpful / Wrong buttons. ``key`` is the session key the buttons carry."""
    title = "Partial answer" if view.partial else "Root-cause hypotheses"
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": title}},
        context(
            f"*Question:* {safe(view.question, 500)}",
            f"Window (UTC) {safe(view.window, 100)} · baseline {safe(view.baseline, 100)}",
            f"{safe(view.provider, 60)} · {view.steps} steps · {view.evidence_count} evidence · "
            f"{view.seconds:.1f} s",
        ),
    ]
    if not view.answered:
        blocks.append(section("No answer: the investigation produced no hypotheses."))
    else:
        blocks.append(section(safe(view.summary, 1500)))
        if view.partial:
            blocks.append(context(":warning: The investigation ran out of budget (partial)."))
    for h in view.hypotheses:
        blocks.append({"type": "divider"})
        blocks += _hypothesis(h, key)
    if view.gaps:
        gaps = [f"*{safe(g.tool, 40)}*: {safe(g.reason, 300)}" for g in view.gaps[:8]]
        if len(view.gaps) > 8:
            gaps.append(f"+{len(view.gaps) - 8} more in the report")
        blocks.append(section("*Could not check*\n" + "\n".join(gaps)))
    if view.notes:
        blocks.append(context(*[f"Note: {safe(n, 500)}" for n in view.notes]))
    turn = {"k": key, "t": view.turns}
    tail = [
        {
            "type": "actions",
            "block_id": "answer",
            "elements": [
                button("Incident report", "rca_report", turn),
                button("Helpful", "rca_helpful", turn, "primary"),
                button("Wrong", "rca_wrong", turn, "danger"),
            ],
        }
    ]
    return fit(blocks, tail)


def evidence_blocks(view: AnswerView, rank: int) -> list[Block]:
    """Every supporting and contradicting evidence line of hypothesis ``rank``."""
    h = next((h for h in view.hypotheses if h.rank == rank), None)
    if h is None:
        return [section(f"No hypothesis #{rank} in the latest answer.")]
    blocks: list[Block] = [section(f"*Evidence for #{h.rank} {safe(h.component, 200)}*")]
    for label, lines in (("supports", h.supporting), ("contradicts", h.contradicting)):
        for ev in lines:
            where = f" · {safe(ev.component, 120)}" if ev.component else ""
            blocks.append(
                section(
                    f"*{ev.id}* {label} ({safe(ev.tool, 30)}/{safe(ev.kind, 40)}{where})\n"
                    f"{code(ev.summary, 1500)}\nSearched: {code(ev.searched, 800)}"
                )
            )
    return fit(blocks)


def progress_text(lines: list[str]) -> str:
    """The live progress message: the latest lines (already escaped), within one section."""
    text = "\n".join(lines)
    while len(text) > MAX_SECTION_TEXT - 100 and len(lines) > 1:
        lines = lines[1:]
        text = "… earlier steps omitted\n" + "\n".join(lines)
    return _cut(text, MAX_SECTION_TEXT)

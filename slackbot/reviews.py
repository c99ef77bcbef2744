"""Well-Architected reviews in Slack, through :class:`reviews.service.ReviewService`.

- A PDF shared in a direct message with the app (``file_shared``): ``files.info`` gives the
  file's type and size, which are checked *before* anything is downloaded; ``url_private`` is
  then fetched with the bot token (only from the configured Slack file hosts, never elsewhere),
  streamed with a byte cap, and submitted to the review service under the thread's key.
- ``/wafr s3://bucket/design.pdf``: the same for a document in S3 (the service checks it).
- The thread gets live progress, then the risk per pillar and the top improvements as Block
  Kit, and the HTML report uploaded with ``files_upload_v2``.
- Replies in that thread are review chat (``ReviewService.chat``), answered with citations.

A retried ``file_shared`` event is dropped by the event claims; a submission under a key that
is already bound returns the existing review (the service's own guarantee).
"""

from __future__ import annotations

import logging
import os
import tempfile
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from reviews.service import ReviewEvent, ReviewOptions, ReviewService, ReviewSummary
from slackbot import blocks
from slackbot.app import ThreadProgress, session_key
from slackbot.blocks import safe
from tools.errors import RcaError

log = logging.getLogger("rca.slack.reviews")

SLACK_FILE_HOSTS = frozenset({"files.slack.com"})
DOWNLOAD_TIMEOUT_S = 60
PDF_TYPES = frozenset({"pdf"})
PDF_MIMES = frozenset({"application/pdf"})
RISK_ORDER = ("HIGH", "MEDIUM", "NONE", "NOT_APPLICABLE", "UNANSWERED")


class FileRefused(RcaError):
    """A shared file is not a PDF, is too large, or cannot be downloaded."""


def _review_line(event: ReviewEvent) -> str:
    if event.kind == "state_changed":
        return f"*{safe(event.state, 30)}*"
    if event.kind == "extracted":
        pages = event.data.get("pages")
        return f"Extracted {pages} pages ({safe(event.text, 200)})"
    if event.kind == "question_assessed":
        return f"{safe(event.number, 20)}: {safe(event.risk, 20)} ({event.done}/{event.total})"
    if event.kind == "throttled":
        unit = safe(str(event.data.get("unit", "")), 60)
        return f":hourglass: throttled on {unit} after retries; no new unit starts"
    if event.kind == "unit_failed":
        return f":warning: {safe(event.text, 300)}"
    return ""


def summary_blocks(summary: ReviewSummary) -> list[blocks.Block]:
    """Risk per pillar and the top improvements of a finished review."""
    out: list[blocks.Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": "Well-Architected review"},
        },
        blocks.context(
            f"*Document:* {safe(summary.document_name, 300)}",
            f"{summary.questions} questions · {safe(summary.mode, 10)} · "
            f"{safe(summary.assessor, 40)}{'' if summary.complete else ' · incomplete'}",
        ),
    ]
    rows = []
    for pillar in summary.pillars:
        counts = " · ".join(
            f"{risk} {pillar.risk_counts[risk]}"  # type: ignore[index]
            for risk in RISK_ORDER
            if pillar.risk_counts.get(risk)  # type: ignore[call-overload]
        )
        rows.append(f"*{safe(pillar.name, 80)}*: {counts or 'no questions'}")
    out.append(blocks.section("*Risk per pillar*\n" + "\n".join(rows)))
    if summary.improvements:
        lines = [
            f"{i.priority}. *{safe(i.number, 20)}* {safe(i.title, 300)}"
            + (f" (best-practice risk {safe(i.bp_risk, 10)})" if i.bp_risk else "")
            for i in summary.improvements
        ]
        out.append(blocks.section("*Top improvements*\n" + "\n".join(lines)))
    out.append(blocks.context("Reply in this thread to ask about the assessment."))
    return blocks.fit(out)


def download_pdf(
    client: WebClient, file_id: str, max_bytes: int, hosts: frozenset[str] = SLACK_FILE_HOSTS
) -> tuple[Path, str]:
    """Check a shared file's type and size with ``files.info``, then download ``url_private``
    with the bot token into a temporary file; returns ``(path, name)``.

    Raises:
        FileRefused: not a PDF, over ``max_bytes`` (bytes), a download URL outside ``hosts``,
        or the download failed or grew past the limit.
    """
    try:
        info = client.files_info(file=file_id)["file"]
    except SlackApiError as exc:
        raise FileRefused(f"cannot read the shared file: {exc.response.get('error')}") from None
    name = str(info.get("name") or "document.pdf")
    kind, mime = str(info.get("filetype", "")), str(info.get("mimetype", ""))
    if kind not in PDF_TYPES and mime not in PDF_MIMES:
        raise FileRefused(
            f"{name} is not a PDF ({kind or mime or 'unknown type'}); "
            "share the design document as a PDF"
        )
    size = int(info.get("size") or 0)
    if size <= 0 or size > max_bytes:
        raise FileRefused(f"{name} is {size} bytes; the limit is {max_bytes} bytes")
    url = str(info.get("url_private_download") or info.get("url_private") or "")
    parsed = urlparse(url)
    if parsed.hostname not in hosts or parsed.scheme not in ("https", "http"):
        raise FileRefused(f"{name}: unexpected download host {parsed.hostname!r}; not fetched")
    if parsed.scheme == "http" and parsed.hostname not in ("127.0.0.1", "localhost"):
        raise FileRefused(f"{name}: refusing a plain-HTTP download")
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {client.token}"})
    fd, temp = tempfile.mkstemp(prefix="rca-slack-", suffix=".pdf")
    target = Path(temp)
    try:
        with (
            os.fdopen(fd, "wb") as handle,
            urllib.request.urlopen(request, timeout=DOWNLOAD_TIMEOUT_S) as reply,
        ):
            got = 0
            while chunk := reply.read(1 << 16):
                got += len(chunk)
                if got > max_bytes:
                    raise FileRefused(f"{name}: the download is larger than {max_bytes} bytes")
                handle.write(chunk)
    except OSError as exc:
        target.unlink(missing_ok=True)
        raise FileRefused(f"{name}: download failed ({type(exc).__name__})") from None
    except FileRefused:
        target.unlink(missing_ok=True)
        raise
    return target, name


class ReviewHandlers:
    """``/wafr``, ``file_shared`` and review chat, over a :class:`ReviewService`."""

    def __init__(
        self,
        service: ReviewService,
        *,
        max_pdf_bytes: int,
        options: ReviewOptions | None = None,
        file_hosts: frozenset[str] = SLACK_FILE_HOSTS,
    ) -> None:
        self.service = service
        self.max_pdf_bytes = max_pdf_bytes
        self.options = options or ReviewOptions()
        self.file_hosts = file_hosts

    def register(self, app: App) -> None:
        """Add the review listeners to ``app``."""
        app.command("/wafr")(ack=self.wafr_ack, lazy=[self.wafr_run])
        app.event("file_shared")(ack=lambda ack: ack(), lazy=[self.file_run])

    def wafr_ack(self, ack: Callable[..., None], command: dict[str, Any]) -> None:
        """``/wafr``: an ``s3://`` URI starts a review; without one, say how to share a PDF."""
        text = (command.get("text") or "").strip()
        if not text.startswith("s3://"):
            ack(
                text="Share the design document as a PDF in a direct message with me and I will "
                "review it, or run `/wafr s3://bucket/design.pdf`."
            )
            return
        ack(text=f"Starting a Well-Architected review of {safe(text, 500)}")

    def wafr_run(self, command: dict[str, Any], client: WebClient) -> None:
        """``/wafr s3://...`` lazy phase."""
        uri = (command.get("text") or "").strip()
        if not uri.startswith("s3://"):
            return
        channel = command["channel_id"]
        root = client.chat_postMessage(
            channel=channel,
            text=f"Reviewing {safe(uri, 500)}",
            blocks=[blocks.section(f":page_facing_up: *Reviewing* {safe(uri, 1000)}")],
        )
        self._review(client, command.get("team_id"), channel, str(root["ts"]), uri)

    def file_run(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        """``file_shared`` in a direct message: check, download, review in a new thread."""
        channel = str(event.get("channel_id") or "")
        if not channel.startswith("D"):
            return  # only files shared with the app directly are reviewed
        try:
            path, name = download_pdf(
                client, str(event["file_id"]), self.max_pdf_bytes, self.file_hosts
            )
        except FileRefused as exc:
            client.chat_postMessage(channel=channel, text=f":x: {safe(str(exc), 1500)}")
            return
        try:
            root = client.chat_postMessage(
                channel=channel,
                text=f"Reviewing {safe(name, 300)}",
                blocks=[blocks.section(f":page_facing_up: *Reviewing* {safe(name, 300)}")],
            )
            self._review(client, body.get("team_id"), channel, str(root["ts"]), str(path))
        finally:
            path.unlink(missing_ok=True)

    def _review(
        self, client: WebClient, team: str | None, channel: str, thread_ts: str, document: str
    ) -> None:
        key = session_key(team, channel, thread_ts)
        progress = ThreadProgress(
            client, channel, thread_ts, _review_line, ":hourglass_flowing_sand: Reviewing…"
        )
        try:
            record = self.service.submit(document, options=self.options, key=key, listener=progress)
            record = self.service.run(record.id, listener=progress)
            summary = self.service.summary(record.id)
            html = self.service.reports(record.id, ("html",))["html"]
        except RcaError as exc:
            progress.flush(f":x: The review failed: {safe(str(exc), 1500)}")
            return
        progress.flush(":white_check_mark: Done.")
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=f"Review of {safe(summary.document_name, 300)}",
            blocks=summary_blocks(summary),
        )
        client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=html,
            filename=f"review-{record.id}.html",
            title=f"Well-Architected review: {summary.document_name}",
        )

    def thread_reply(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        """A reply in a review thread: review chat, answered in the thread with citations."""
        thread_ts = str(event["thread_ts"])
        key = session_key(body.get("team_id"), event["channel"], thread_ts)
        record = self.service.find(key)
        text = (event.get("text") or "").strip()
        if record is None or not text:
            return
        try:
            answer = self.service.chat(record.id, text)
        except RcaError as exc:
            reply = f":x: {safe(str(exc), 1500)}"
        else:
            cites = ", ".join(
                safe(f"{c.kind} {c.ref}" + (f" ({c.label})" if c.label else ""), 200)
                for c in answer.citations[:8]
            )
            reply = safe(answer.text, 2500) + (f"\n_Sources: {cites}_" if cites else "")
        client.chat_postMessage(
            channel=event["channel"],
            thread_ts=thread_ts,
            text=reply[:3000],
            blocks=[blocks.section(reply)],
        )

"""The Slack app (Bolt for Python): a thread is an investigation.

- ``/rca <symptom> [--component NAME]... [--start ISO --end ISO] [--source NAME]`` acknowledges
  at once (ephemeral), then, lazily, posts a root message in the channel, the live progress in
  its thread, and the hypotheses as Block Kit (:mod:`slackbot.blocks`).
- ``@rca`` in a thread starts an investigation with the thread's parent message (e.g. an alarm
  notification) as context, or asks a follow-up when the thread already has one.
- Thread replies are follow-ups in the same session (key ``team/channel/thread_ts``); the
  service's version-checked writes keep two replies at once.
- Buttons: Dig deeper and Show evidence (per hypothesis), Incident report (the Markdown report
  uploaded with ``files_upload_v2``), Helpful / Wrong (a modal asks for the real root cause);
  feedback is stored with the session (``rca feedback export``).

Safety: Bolt verifies every request's signature and rejects timestamps more than 5 minutes
off (``slack_bolt.middleware.request_verification``; Slack's "Verifying requests from Slack");
:mod:`slackbot.dedupe` drops a retried event (``X-Slack-Retry-Num``, same ``event_id``); the
allowlist refuses other workspaces, channels and users with an ephemeral message naming whom
to ask; all untrusted text is rendered inert by :mod:`slackbot.blocks`.

Nothing here wires an investigation: the handlers call
:class:`agent.service.InvestigationService` and render what it returns.
"""

from __future__ import annotations

import json
import logging
import re
import shlex
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.lazy_listener.thread_runner import ThreadLazyListenerRunner
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from agent.service import InvestigationService, ProgressEvent, TelemetrySource
from agent.sessions import Feedback, SessionError, VersionConflict
from slackbot import blocks
from slackbot.blocks import code, safe
from slackbot.config import SlackConfig
from slackbot.dedupe import EventClaims
from tools.errors import RcaError
from tools.models import TimeWindow

log = logging.getLogger("rca.slack")

USAGE = (
    "Usage: `/rca <symptom> [--component NAME]... [--start ISO --end ISO] [--source NAME]`, "
    'e.g. `/rca checkout returns 502 --component "Orders API"`'
)
PROGRESS_UPDATE_S = 1.0  # at most one chat.update of the progress message per second
GROUP_CACHE_S = 300.0  # user group members are re-read after 5 minutes
ACK_WORKERS = 8  # threads running ack functions (each takes milliseconds)
WORK_WORKERS = 4  # investigations and reviews at once in this process; more wait in line
_MENTION = re.compile(r"<@[UW][A-Z0-9]+>")


def session_key(team: str | None, channel: str, thread_ts: str) -> str:
    """The session key of a Slack thread: ``team/channel/thread_ts``."""
    return f"{team or '-'}/{channel}/{thread_ts}"


class Request:
    """A parsed ``/rca`` command text."""

    def __init__(self, text: str) -> None:
        """Raises RcaError (one line, with the usage) on bad options."""
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise RcaError(f"cannot parse the command ({exc}). {USAGE}") from None
        self.components: list[str] = []
        self.start: str | None = None
        self.end: str | None = None
        self.source: str | None = None
        rest: list[str] = []
        it = iter(words)
        for word in it:
            if word in ("--component", "--start", "--end", "--source"):
                value = next(it, None)
                if value is None:
                    raise RcaError(f"{word} needs a value. {USAGE}")
                if word == "--component":
                    self.components.append(value)
                else:
                    setattr(self, word[2:], value)
            elif word.startswith("--"):
                raise RcaError(f"unknown option {word}. {USAGE}")
            else:
                rest.append(word)
        self.question = " ".join(rest).strip()
        if not self.question:
            raise RcaError(f"describe the symptom. {USAGE}")
        if bool(self.start) != bool(self.end):
            raise RcaError("give both --start and --end (ISO 8601 UTC)")

    def window(self) -> TimeWindow | None:
        """The window given with --start/--end (raises RcaError when invalid)."""
        if not self.start:
            return None
        try:
            return TimeWindow.model_validate({"start": self.start, "end": self.end})
        except ValueError as exc:
            raise RcaError(f"invalid window: {str(exc).splitlines()[-1].strip()}") from None


class ThreadProgress:
    """A progress listener that keeps one message in the thread up to date (``chat.update``
    at most once per :data:`PROGRESS_UPDATE_S`), showing tool calls and what each found."""

    def __init__(
        self,
        client: WebClient,
        channel: str,
        thread_ts: str,
        render: Callable[[Any], str] | None = None,
        opening: str = ":mag: Investigating…",
    ) -> None:
        """``render`` turns one event into an escaped line ("" to skip; default: the
        investigation's :class:`ProgressEvent` lines)."""
        self.client, self.channel = client, channel
        self.render = render or _progress_line
        self.lines: list[str] = [opening]
        self._lock = threading.Lock()  # review events arrive from the assessment's workers
        reply = client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text="Progress", blocks=self._blocks()
        )
        self.ts = str(reply["ts"])
        self.last = time.monotonic()

    def _blocks(self) -> list[dict[str, Any]]:
        return [blocks.section(blocks.progress_text(self.lines))]

    def __call__(self, event: Any) -> None:
        line = self.render(event)
        if not line:
            return
        with self._lock:
            self.lines.append(line)
            due = time.monotonic() - self.last >= PROGRESS_UPDATE_S
        if due:
            self.flush()

    def flush(self, done: str | None = None) -> None:
        """Update the message now (``done``: a closing line)."""
        with self._lock:
            if done:
                self.lines.append(done)
            self.last = time.monotonic()
            shown = self._blocks()
        self.client.chat_update(channel=self.channel, ts=self.ts, text="Progress", blocks=shown)


def _progress_line(event: ProgressEvent) -> str:
    tool = safe(event.tool, 40)
    if event.kind == "planning" and event.step:
        return f"*Step {event.step}* {safe(event.text, 300)}"
    if event.kind == "tool_call_started":
        return f"→ {tool}"
    if event.kind == "tool_call_finished":
        status = safe(event.status, 20)
        return f"← {tool}: {status}, {event.evidence} evidence, {event.seconds or 0:.2f} s"
    if event.kind == "observation":
        return f"    • {code(event.text, 300)}"
    if event.kind == "gap":
        return f":warning: could not check ({tool}): {safe(event.text, 300)}"
    return ""


class SlackBot:
    """The handlers, bound to a service, a config and event claims (see :func:`build_app`)."""

    def __init__(
        self,
        config: SlackConfig,
        service: InvestigationService,
        claims: EventClaims,
        reviews: Any | None = None,
    ) -> None:
        self.config = config
        self.service = service
        self.claims = claims
        self.reviews = reviews
        self._groups: dict[str, tuple[float, set[str]]] = {}
        self._groups_lock = threading.Lock()

    # ---- safety -------------------------------------------------------------------------

    def allowed(
        self, client: WebClient, team: str | None, channel: str | None, user: str | None
    ) -> bool:
        """True when the workspace, channel and user pass the allowlist (empty = any; direct
        messages are not subject to the channel list, the user-group list still applies)."""
        allow = self.config.allow
        if allow.teams and team not in allow.teams:
            return False
        direct = channel is not None and channel.startswith("D")  # a DM: the user decides
        if allow.channels and channel is not None and not direct and channel not in allow.channels:
            return False
        if allow.user_groups:
            return user is not None and any(
                user in self._members(client, g) for g in allow.user_groups
            )
        return True

    def _members(self, client: WebClient, group: str) -> set[str]:
        with self._groups_lock:
            cached = self._groups.get(group)
            if cached and time.monotonic() - cached[0] < GROUP_CACHE_S:
                return cached[1]
        try:
            users = set(client.usergroups_users_list(usergroup=group).get("users") or [])
        except SlackApiError as exc:
            log.warning("usergroups.users.list %s failed: %s", group, exc.response.get("error"))
            users = set()
        with self._groups_lock:
            self._groups[group] = (time.monotonic(), users)
        return users

    def refusal(self) -> str:
        """The ephemeral refusal text."""
        return (
            "Sorry, you are not on this app's allowlist for this workspace or channel. "
            f"Ask {safe(self.config.allow.contact, 200)} to add you."
        )

    def guard_middleware(
        self,
        request: BoltRequest,
        body: dict[str, Any],
        context: Any,
        client: WebClient,
        next: Callable[[], None],
    ) -> BoltResponse | None:
        """Global middleware: drop retried events and refuse requests outside the allowlist."""
        if request.lazy_only:  # a lazy listener's own invocation (Lambda): already checked
            next()
            return None
        event_id = body.get("event_id")
        if (
            body.get("type") == "event_callback"
            and event_id
            and not self.claims.claim(str(event_id))
        ):
            retry = request.headers.get("x-slack-retry-num", ["0"])[0]
            log.info("event %s delivered again (retry %s): ignored", event_id, retry)
            return BoltResponse(status=200, body="")
        event = body.get("event") or {}
        if event.get("bot_id") or event.get("subtype") in ("bot_message", "message_changed"):
            next()
            return None
        team, channel, user = context.team_id, context.channel_id, context.user_id
        if self.allowed(client, team, channel, user):
            next()
            return None
        log.info("refused team=%s channel=%s user=%s", team, channel, user)
        if body.get("command"):
            return BoltResponse(
                status=200,
                body=json.dumps({"response_type": "ephemeral", "text": self.refusal()}),
                headers={"content-type": "application/json"},
            )
        interactive = body.get("type") in ("block_actions", "view_submission") or event.get(
            "type"
        ) in ("app_mention", "file_shared")
        if interactive and channel and user:
            try:
                client.chat_postEphemeral(channel=channel, user=user, text=self.refusal())
            except SlackApiError as exc:
                log.warning("refusal not delivered: %s", exc.response.get("error"))
        return BoltResponse(status=200, body="")

    # ---- investigations -----------------------------------------------------------------

    def _source(self, channel: str, name: str | None) -> TelemetrySource | None:
        if name:
            chosen = self.config.sources.get(name)
            if chosen is None:
                raise RcaError(
                    f"no source {name!r} in the Slack config; known: "
                    f"{', '.join(sorted(self.config.sources)) or 'none'}"
                )
            return chosen.typed(Path(self.config.base_dir))
        return self.config.source_for(channel)

    def rca_ack(self, ack: Callable[..., None], command: dict[str, Any]) -> None:
        """``/rca`` ack phase: validate quickly and answer ephemerally (under 3 seconds)."""
        try:
            req = Request(command.get("text", ""))
            source = self._source(command["channel_id"], req.source)
            req.window()
        except RcaError as exc:
            ack(text=safe(str(exc), 2000))
            return
        if source is None:
            ack(text=safe(self.config.unconfigured(command["channel_id"]), 2000))
            return
        ack(text=f"Starting an investigation of: {safe(req.question, 500)}")

    def rca_run(self, command: dict[str, Any], client: WebClient) -> None:
        """``/rca`` lazy phase: root message, progress in its thread, then the answer."""
        try:
            req = Request(command.get("text", ""))
            source = self._source(command["channel_id"], req.source)
            window = req.window()
        except RcaError:
            return  # the ack phase already answered
        if source is None:
            return
        channel = command["channel_id"]
        root = client.chat_postMessage(
            channel=channel,
            text=f"Investigation: {safe(req.question, 500)}",
            blocks=[
                blocks.section(f":mag: *Investigating:* {safe(req.question, 1000)}"),
                blocks.context("Replies in this thread are follow-up questions."),
            ],
        )
        thread_ts = str(root["ts"])
        key = session_key(command.get("team_id"), channel, thread_ts)
        self._investigate(
            client,
            channel,
            thread_ts,
            lambda listener: self.service.start(
                key,
                req.question,
                source,
                model=self.config.model,
                window=window,
                focus=req.components or None,
                listener=listener,
            ),
        )

    def _investigate(
        self,
        client: WebClient,
        channel: str,
        thread_ts: str,
        run: Callable[[ThreadProgress], Any],
    ) -> None:
        progress = ThreadProgress(client, channel, thread_ts)
        try:
            record = run(progress)
        except VersionConflict:
            progress.flush(":information_source: This thread already has an investigation.")
            return
        except RcaError as exc:
            progress.flush(f":x: Could not investigate: {safe(str(exc), 1500)}")
            return
        except Exception:
            log.exception("investigation failed")
            progress.flush(":x: The investigation failed unexpectedly; see the app's logs.")
            raise
        progress.flush(":white_check_mark: Done.")
        view = self.service.view(record)
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=safe(view.summary or "Investigation finished", 2000),
            blocks=blocks.answer_blocks(view, record.id),
        )

    def _exists(self, key: str) -> bool:
        try:
            self.service.get(key)
        except SessionError:
            return False
        return True

    def mention_run(self, event: dict[str, Any], body: dict[str, Any], client: WebClient) -> None:
        """``app_mention``: a follow-up in a thread with a session, else a new investigation
        with the thread's parent message as context."""
        channel = event["channel"]
        thread_ts = str(event.get("thread_ts") or event["ts"])
        key = session_key(body.get("team_id"), channel, thread_ts)
        text = _MENTION.sub("", event.get("text", "")).strip()
        if self._exists(key):
            self._follow_up(client, channel, thread_ts, key, text or "What else should I check?")
            return
        source = self.config.source_for(channel)
        if source is None:
            client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=safe(self.config.unconfigured(channel), 2000),
            )
            return
        parent = ""
        if event.get("thread_ts"):
            try:
                replies = client.conversations_replies(channel=channel, ts=thread_ts, limit=1)
                parent = str((replies.get("messages") or [{}])[0].get("text") or "")
            except SlackApiError as exc:
                log.warning("conversations.replies failed: %s", exc.response.get("error"))
        question = text
        if not question and parent.strip():
            question = parent.strip().splitlines()[0][:300]  # the alert's title is the symptom
        if not question:
            client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=USAGE)
            return
        self._investigate(
            client,
            channel,
            thread_ts,
            lambda listener: self.service.start(
                key, question, source, model=self.config.model, context=parent, listener=listener
            ),
        )

    def _follow_up(
        self, client: WebClient, channel: str, thread_ts: str, key: str, question: str
    ) -> None:
        self._investigate(
            client,
            channel,
            thread_ts,
            lambda listener: self.service.follow_up(
                key, question, model=self.config.model, listener=listener
            ),
        )

    def message_run(
        self, event: dict[str, Any], body: dict[str, Any], client: WebClient, context: Any
    ) -> None:
        """A thread reply: a follow-up when the thread holds an investigation (mentions of
        the bot are left to ``app_mention``; bot messages and edits are ignored)."""
        if event.get("subtype") or event.get("bot_id") or not event.get("thread_ts"):
            return
        if event.get("thread_ts") == event.get("ts"):
            return
        text = event.get("text") or ""
        if context.bot_user_id and f"<@{context.bot_user_id}>" in text:
            return
        key = session_key(body.get("team_id"), event["channel"], str(event["thread_ts"]))
        if self._exists(key) and text.strip():
            self._follow_up(client, event["channel"], str(event["thread_ts"]), key, text.strip())
            return
        if self.reviews is not None:
            self.reviews.thread_reply(event, body, client)

    # ---- buttons ------------------------------------------------------------------------

    @staticmethod
    def _value(body: dict[str, Any]) -> dict[str, Any]:
        return json.loads(body["actions"][0]["value"])

    @staticmethod
    def _where(body: dict[str, Any]) -> tuple[str, str]:
        message = body.get("message") or {}
        return body["channel"]["id"], str(message.get("thread_ts") or message.get("ts"))

    def dig_run(self, body: dict[str, Any], client: WebClient) -> None:
        """Dig deeper on hypothesis ``r``: a follow-up naming it."""
        value = self._value(body)
        channel, thread_ts = self._where(body)
        view = self.service.view(self.service.get(value["k"]))
        h = next((h for h in view.hypotheses if h.rank == value["r"]), None)
        if h is None:
            return
        question = (
            f"Dig deeper into hypothesis #{h.rank}: {h.component} ({h.fault_category}). "
            "What else supports or contradicts it?"
        )
        self._follow_up(client, channel, thread_ts, value["k"], question)

    def evidence_run(self, body: dict[str, Any], client: WebClient) -> None:
        """Show every evidence line of hypothesis ``r`` in the thread."""
        value = self._value(body)
        channel, thread_ts = self._where(body)
        view = self.service.view(self.service.get(value["k"]))
        client.chat_postMessage(
            channel=channel,
            thread_ts=thread_ts,
            text=f"Evidence for hypothesis #{value['r']}",
            blocks=blocks.evidence_blocks(view, int(value["r"])),
        )

    def report_run(self, body: dict[str, Any], client: WebClient) -> None:
        """Upload the Markdown incident report into the thread (``files_upload_v2``)."""
        value = self._value(body)
        channel, thread_ts = self._where(body)
        report = self.service.report(value["k"])
        client.files_upload_v2(
            channel=channel,
            thread_ts=thread_ts,
            content=report,
            filename="incident-report.md",
            title="Incident report",
            initial_comment="Incident report of this investigation (Markdown).",
        )

    def helpful_run(self, body: dict[str, Any], client: WebClient) -> None:
        """Store a ``helpful`` verdict on the turn the message shows."""
        value = self._value(body)
        channel, _ = self._where(body)
        user = body.get("user", {}).get("id", "")
        self.service.add_feedback(
            value["k"], Feedback(verdict="helpful", turn=value["t"], user=user)
        )
        client.chat_postEphemeral(channel=channel, user=user, text="Thanks: stored as helpful.")

    def wrong_ack(self, ack: Callable[..., None], body: dict[str, Any], client: WebClient) -> None:
        """Wrong: open a modal asking for the real root cause (``views.open`` needs the
        trigger within 3 seconds, so this runs in the ack phase)."""
        ack()
        value = self._value(body)
        channel, _ = self._where(body)
        client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": "rca_wrong_modal",
                "private_metadata": json.dumps({**value, "c": channel}),
                "title": {"type": "plain_text", "text": "Wrong answer"},
                "submit": {"type": "plain_text", "text": "Store"},
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "cause",
                        "optional": True,
                        "label": {"type": "plain_text", "text": "The real root cause was …"},
                        "element": {
                            "type": "plain_text_input",
                            "action_id": "text",
                            "multiline": True,
                            "max_length": 2000,
                        },
                    }
                ],
            },
        )

    def wrong_submit(
        self, ack: Callable[..., None], body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        """The modal's submission: store ``wrong`` with the real root cause."""
        ack()
        meta = json.loads(view["private_metadata"])
        cause = (view["state"]["values"].get("cause", {}).get("text", {}) or {}).get("value")
        self.service.add_feedback(
            meta["k"],
            Feedback(
                verdict="wrong",
                turn=meta["t"],
                real_root_cause=cause or None,
                user=body.get("user", {}).get("id", ""),
            ),
        )


def _ack(ack: Callable[..., None]) -> None:
    ack()


def build_app(
    config: SlackConfig,
    service: InvestigationService,
    claims: EventClaims,
    *,
    client: WebClient,
    signing_secret: str | None,
    process_before_response: bool = False,
    reviews: Any | None = None,
) -> App:
    """The Bolt app with every listener registered.

    ``process_before_response=True`` for Lambda (HTTP), where lazy listeners run in a second
    invocation; Socket Mode and in-process tests run them on Bolt's thread pool.
    """
    bot = SlackBot(config, service, claims, reviews)
    app = App(
        client=client,
        signing_secret=signing_secret,
        process_before_response=process_before_response,
        request_verification_enabled=signing_secret is not None,
        listener_executor=ThreadPoolExecutor(max_workers=ACK_WORKERS, thread_name_prefix="ack"),
    )
    # Bolt runs ack functions and lazy listeners on one executor by default (5 threads), so five
    # running investigations would starve every later ack past Slack's 3 s. Work gets its own
    # bounded pool: further investigations queue there while acks keep flowing.
    app.listener_runner.lazy_listener_runner = ThreadLazyListenerRunner(
        logger=app.logger,
        executor=ThreadPoolExecutor(max_workers=WORK_WORKERS, thread_name_prefix="work"),
    )
    app.middleware(bot.guard_middleware)
    app.command("/rca")(ack=bot.rca_ack, lazy=[bot.rca_run])
    app.event("app_mention")(ack=_ack, lazy=[bot.mention_run])
    app.event("message")(ack=_ack, lazy=[bot.message_run])
    app.action("rca_dig")(ack=_ack, lazy=[bot.dig_run])
    app.action("rca_evidence")(ack=_ack, lazy=[bot.evidence_run])
    app.action("rca_report")(ack=_ack, lazy=[bot.report_run])
    app.action("rca_helpful")(ack=_ack, lazy=[bot.helpful_run])
    app.action("rca_wrong")(bot.wrong_ack)
    app.view("rca_wrong_modal")(bot.wrong_submit)
    if reviews is not None:
        reviews.register(app)
    return app


def review_handlers(config: SlackConfig) -> Any:
    """The review listeners over a :class:`reviews.service.ReviewService` configured from the
    environment (embedded default: SQLite, pdfplumber, the offline heuristic assessor)."""
    from reviews.service import ReviewService, ReviewSettings
    from slackbot.reviews import ReviewHandlers

    return ReviewHandlers(
        ReviewService(settings=ReviewSettings.from_env()), max_pdf_bytes=config.max_pdf_bytes
    )


def serve_socket_mode(config_path: Path | str | None = None) -> None:
    """Run the app in Socket Mode until interrupted (embedded default without a config).

    Raises:
        RcaError: missing tokens or a bad config (one line; the tokens are never shown).
    """
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    from agent.sessions import open_store
    from slackbot.config import load_config
    from slackbot.dedupe import open_claims
    from slackbot.secrets import load_secrets

    config = load_config(config_path)
    secrets = load_secrets()
    secrets.require("bot_token", "app_token")
    assert secrets.bot_token is not None and secrets.app_token is not None
    app = build_app(
        config,
        InvestigationService(open_store()),
        open_claims(),
        client=WebClient(token=secrets.bot_token.get_secret_value()),
        signing_secret=None,
        reviews=review_handlers(config),
    )
    SocketModeHandler(app, secrets.app_token.get_secret_value()).start()

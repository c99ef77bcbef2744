"""The Slack app end to end in process: really signed requests dispatched into Bolt, a fake
Slack Web API on 127.0.0.1 recording every call, investigations on an incident bundle."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

from agent.sessions import SqliteSessionStore
from tests.slackbot.conftest import (
    action,
    answers,
    chain_config,
    command,
    event,
    make_app,
)
from tests.slackbot.fake_slack import FakeSlack


def _start(fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path):  # type: ignore[no-untyped-def]
    app = make_app(fake, store, chain_config(chain), tmp_path)
    resp = app.dispatch(command("checkout fails in the web app"))
    assert resp.status == 200
    assert "Starting an investigation" in resp.body
    fake.wait_for(lambda: len(answers(fake)) == 1)
    root = fake.of("chat.postMessage")[0]
    return app, root


def test_slash_command_posts_hypotheses_in_the_thread(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    _app, root = _start(fake, store, chain, tmp_path)
    root_ts = "1700000000.000001"
    assert root["channel"] == "C1" and "thread_ts" not in root
    answer = answers(fake)[0]
    assert answer["thread_ts"] == root_ts
    text = json.dumps(answer["blocks"])
    assert "#1 Orders API" in text and "Dig deeper" in text and "Incident report" in text
    # progress: one message in the thread, updated with tool calls and findings
    updates = fake.of("chat.update")
    assert updates and "architecture" in json.dumps(updates[-1]["blocks"])
    assert "Done." in json.dumps(updates[-1]["blocks"])
    record = store.load(f"T1/C1/{root_ts}")
    assert len(record.turns) == 1 and record.turns[0].question == "checkout fails in the web app"


def test_thread_reply_reaches_the_same_session(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app, _ = _start(fake, store, chain, tmp_path)
    ts = "1700000000.000001"
    reply = {
        "type": "message",
        "channel": "C1",
        "user": "U1",
        "text": "is the Orders DB involved?",
        "ts": "1700000100.000001",
        "thread_ts": ts,
    }
    assert app.dispatch(event(reply, "Ev-reply-1")).status == 200
    fake.wait_for(lambda: len(answers(fake)) == 2)
    record = store.load(f"T1/C1/{ts}")
    assert [t.question for t in record.turns] == [
        "checkout fails in the web app",
        "is the Orders DB involved?",
    ]
    assert answers(fake)[1]["thread_ts"] == ts


def test_two_concurrent_replies_are_both_kept(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app, _ = _start(fake, store, chain, tmp_path)
    ts = "1700000000.000001"
    barrier = threading.Barrier(2)

    def reply(n: int) -> None:
        evt = {
            "type": "message",
            "channel": "C1",
            "user": "U1",
            "text": f"question {n}: what changed?",
            "ts": f"17000001{n}.000001",
            "thread_ts": ts,
        }
        barrier.wait()
        assert app.dispatch(event(evt, f"Ev-concurrent-{n}")).status == 200

    threads = [threading.Thread(target=reply, args=(n,)) for n in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    fake.wait_for(lambda: len(answers(fake)) == 3)
    record = store.load(f"T1/C1/{ts}")
    assert sorted(t.question for t in record.turns[1:]) == [
        "question 1: what changed?",
        "question 2: what changed?",
    ]
    assert record.version == 3


def test_retried_event_never_starts_a_second_investigation(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app = make_app(fake, store, chain_config(chain), tmp_path)
    mention = {
        "type": "app_mention",
        "channel": "C1",
        "user": "U1",
        "text": "<@UBOT0001> checkout fails in the web app",
        "ts": "1700000500.000001",
    }
    assert app.dispatch(event(mention, "Ev-mention-1")).status == 200
    started = time.perf_counter()
    retry = app.dispatch(
        event(
            mention,
            "Ev-mention-1",
            headers={"x-slack-retry-num": "1", "x-slack-retry-reason": "http_timeout"},
        )
    )
    assert retry.status == 200 and time.perf_counter() - started < 1.0
    fake.wait_for(lambda: len(answers(fake)) == 1)
    time.sleep(0.5)  # a second investigation, had it started, would post its progress by now
    assert len(answers(fake)) == 1
    progress_posts = [p for p in fake.of("chat.postMessage") if p.get("text") == "Progress"]
    assert len(progress_posts) == 1
    assert [sid for sid, _c, _q in store.list()] == ["T1/C1/1700000500.000001"]


def test_forged_signature_and_stale_timestamp_are_rejected(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app = make_app(fake, store, chain_config(chain), tmp_path)
    before = len(fake.calls)
    forged = app.dispatch(command("checkout fails", secret="not-the-signing-secret"))
    assert forged.status == 401
    stale = app.dispatch(command("checkout fails", timestamp=int(time.time()) - 301))
    assert stale.status == 401
    time.sleep(0.3)
    assert len(fake.calls) == before and store.list() == []


def test_mention_in_an_alert_thread_uses_the_parent_as_context(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app = make_app(fake, store, chain_config(chain), tmp_path)
    fake.thread_parents["1700000600.000001"] = (
        "ALARM: Orders API Errors > 10 in eu-central-1\nState changed OK -> ALARM"
    )
    mention = {
        "type": "app_mention",
        "channel": "C1",
        "user": "U1",
        "text": "<@UBOT0001>",
        "ts": "1700000601.000001",
        "thread_ts": "1700000600.000001",
    }
    app.dispatch(event(mention, "Ev-alert-1"))
    fake.wait_for(lambda: len(answers(fake)) == 1)
    assert fake.of("conversations.replies")[0]["ts"] == "1700000600.000001"
    record = store.load("T1/C1/1700000600.000001")
    assert record.turns[0].question == "ALARM: Orders API Errors > 10 in eu-central-1"
    assert "Orders API" in json.dumps(answers(fake)[0]["blocks"])


def test_buttons_report_evidence_and_feedback(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app, _ = _start(fake, store, chain, tmp_path)
    ts = "1700000000.000001"
    key = f"T1/C1/{ts}"
    answer_ts = "1700000000.000003"
    app.dispatch(action("rca_report", {"k": key, "t": 1}, message_ts=answer_ts, thread_ts=ts))
    fake.wait_for(lambda: fake.of("files.completeUploadExternal"))
    done = fake.of("files.completeUploadExternal")[0]
    assert done["channel_id"] == "C1" and done["thread_ts"] == ts
    assert fake.uploads and fake.uploads[0].startswith(b"# Incident report")
    app.dispatch(action("rca_evidence", {"k": key, "r": 1}, message_ts=answer_ts, thread_ts=ts))
    fake.wait_for(
        lambda: any("Evidence for" in str(p.get("text")) for p in fake.of("chat.postMessage"))
    )
    app.dispatch(action("rca_helpful", {"k": key, "t": 1}, message_ts=answer_ts, thread_ts=ts))
    fake.wait_for(lambda: store.load(key).feedback)
    assert store.load(key).feedback[0].verdict == "helpful"
    # Wrong: the modal opens at once (trigger ids expire after 3 s), the submission is stored
    app.dispatch(action("rca_wrong", {"k": key, "t": 1}, message_ts=answer_ts, thread_ts=ts))
    # Bolt runs the listener on its pool after ack(): dispatch may return before views.open
    fake.wait_for(lambda: fake.of("views.open"))
    opened = fake.of("views.open")[0]
    assert opened["view"]["callback_id"] == "rca_wrong_modal"
    submission = {
        "type": "view_submission",
        "team": {"id": "T1"},
        "user": {"id": "U1"},
        "api_app_id": "A1",
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "rca_wrong_modal",
            "private_metadata": opened["view"]["private_metadata"],
            "state": {
                "values": {
                    "cause": {
                        "text": {
                            "type": "plain_text_input",
                            "value": "the Orders DB password=hunter2 was rotated",
                        }
                    }
                }
            },
        },
    }
    from urllib.parse import quote

    from tests.slackbot.conftest import signed

    resp = app.dispatch(
        signed("payload=" + quote(json.dumps(submission)), "application/x-www-form-urlencoded")
    )
    assert resp.status == 200
    fake.wait_for(lambda: len(store.load(key).feedback) == 2)
    wrong = store.load(key).feedback[1]
    assert wrong.verdict == "wrong" and "hunter2" not in (wrong.real_root_cause or "")
    # dig deeper: a follow-up turn naming the hypothesis
    app.dispatch(action("rca_dig", {"k": key, "r": 1}, message_ts=answer_ts, thread_ts=ts))
    fake.wait_for(lambda: len(answers(fake)) == 2)
    assert (
        store.load(key).turns[-1].question.startswith("Dig deeper into hypothesis #1: Orders API")
    )


def test_feedback_export_turns_confirmed_answers_into_cases(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    from agent.evaluation import evaluate
    from agent.feedback import export_cases
    from agent.service import InvestigationService
    from agent.sessions import Feedback

    service = InvestigationService(store)
    service.start("k-helpful", "checkout fails in the web app", _bundle(chain))
    service.add_feedback("k-helpful", Feedback(verdict="helpful", turn=1))
    service.start("k-wrong", "checkout fails", _bundle(chain))
    service.add_feedback(
        "k-wrong", Feedback(verdict="wrong", turn=1, real_root_cause="it was the orders db")
    )
    service.start("k-none", "checkout fails", _bundle(chain))
    cases = export_cases(service, tmp_path / "cases")
    by = {c.session: c for c in cases}
    assert set(by) == {"k-helpful", "k-wrong"}
    assert by["k-helpful"].truth_name == "Orders API" and by["k-helpful"].bundle
    assert by["k-wrong"].truth_name == "Orders DB"
    results, _scores = evaluate([tmp_path / "cases"])
    assert len(results) == 2 and {r.truth for r in results} == {"Orders API", "Orders DB"}
    assert (tmp_path / "cases" / "cases.jsonl").read_text().count("\n") == 2


def _bundle(chain: Path):  # type: ignore[no-untyped-def]
    from agent.service import BundleSource

    return BundleSource(path=str(chain))

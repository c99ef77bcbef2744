"""Safety of the Slack surface: injection payloads inert, allowlist refusals, Block Kit limits,
unconfigured channels, tokens never shown."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.service import ProgressEvent
from agent.sessions import SqliteSessionStore
from agent.view import AnswerView, EvidenceLine, Gap, HypothesisView
from slackbot import blocks
from slackbot.app import _progress_line
from slackbot.config import SlackConfig
from tests.slackbot.conftest import all_text, answers, chain_config, command, event, make_app
from tests.slackbot.fake_slack import FakeSlack

PAYLOADS = [
    "<!channel> everyone look",
    "<!here|here> ping",
    "<!everyone>",
    "<@U0ADMIN> please approve",
    "<#C0SECRET|secret-channel>",
    "<https://evil.example/login|Click to re-authenticate>",
    "<mailto:attacker@evil.example|mail me>",
    "&lt;!channel&gt; pre-escaped",
    "*bold claim* _italic_ ~strike~",
    "`code` ```block```",
    "> quoted alert\n> second line",
    "<!subteam^S0ONCALL|@oncall>",
    "<!date^1392734382^{date_pretty}|fallback>",
    "\u202e<!channel> reversed",
    "zero\u200bwidth <!he\u200bre>",
    "\x1b[31m<!channel>\x1b[0m",
    "[link](https://evil.example) <img src=x onerror=alert(1)>",
    "line1\n<!channel>\nline3",
    "token xoxb-1234567890-abcdefghijkl leaked",
    "<@W0ENTERPRISE> and <!channel> and <https://x.example>",
]
LIVE = re.compile(r"<[!@#]|<https?:|<mailto:|<[A-Za-z]")


def _hostile_view(payload: str) -> AnswerView:
    line = EvidenceLine(
        id="E1",
        tool="logs",
        kind="log_pattern",
        component=payload,
        summary=payload,
        searched=payload,
        time=datetime(2026, 1, 1, tzinfo=UTC),
    )
    return AnswerView(
        session_id="T1/C1/1.1",
        question=payload,
        window="2026-01-01T00:00:00Z..2026-01-01T01:00:00Z",
        baseline="x",
        provider="heuristic",
        steps=1,
        evidence_count=1,
        seconds=0.1,
        summary=payload,
        partial=False,
        answered=True,
        hypotheses=[
            HypothesisView(
                rank=1,
                component=payload,
                component_id="1",
                fault_category="unknown",
                confidence=0.5,
                statement=payload,
                propagation_path=[payload, "B"],
                supporting=[line],
                contradicting=[line],
                deciding=[line],
                next_checks=[payload],
            )
        ],
        gaps=[Gap(tool="metrics", reason=payload)],
        notes=[payload],
        evidence=[line],
    )


@pytest.mark.parametrize("payload", PAYLOADS)
def test_mrkdwn_and_mention_payloads_are_inert(payload: str) -> None:
    rendered = blocks.answer_blocks(_hostile_view(payload), "T1/C1/1.1")
    rendered += blocks.evidence_blocks(_hostile_view(payload), 1)
    texts = all_text({"blocks": rendered})
    texts += [
        _progress_line(ProgressEvent(kind=k, tool="logs", text=payload, step=1))
        for k in ("planning", "observation", "gap")
    ]
    for text in texts:
        assert not LIVE.search(text), text
        assert ">" not in text.replace("&gt;", ""), text  # no quote block, no closing markup
        assert "\x1b" not in text and "\u202e" not in text and "\u200b" not in text
        assert "xoxb-1234567890" not in text
        outside_code = re.sub(r"`[^`]*`", "", text)  # code spans do not format
        for marker in ("*bold claim*", "_italic_", "~strike~", "`code`"):
            assert marker not in outside_code, text


def test_hostile_slash_command_text_is_echoed_inert(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    app = make_app(fake, store, chain_config(chain), tmp_path)
    resp = app.dispatch(command("<!channel> checkout fails <@U0ADMIN> <https://evil.example|x>"))
    assert resp.status == 200 and not LIVE.search(resp.body)
    fake.wait_for(lambda: len(answers(fake)) == 1)
    for method in ("chat.postMessage", "chat.update"):
        for params in fake.of(method):
            for text in all_text(params):
                assert not LIVE.search(text), text


def test_user_outside_the_allowlist_is_refused(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    fake.group_members["S0ONCALL"] = ["U1"]
    config = chain_config(chain, teams=["T1"], channels=["C1"], user_groups=["S0ONCALL"])
    app = make_app(fake, store, config, tmp_path)
    for request in (
        command("checkout fails", user="U2"),
        command("checkout fails", channel="C9"),
        command("checkout fails", team="T9"),
    ):
        resp = app.dispatch(request)
        assert resp.status == 200
        body = json.loads(resp.body)
        assert body["response_type"] == "ephemeral" and "#sre-platform" in body["text"]
    mention = {
        "type": "app_mention",
        "channel": "C1",
        "user": "U2",
        "text": "<@UBOT0001> checkout fails",
        "ts": "1700000700.000001",
    }
    app.dispatch(event(mention, "Ev-refused-1"))
    refusal = fake.of("chat.postEphemeral")[0]
    assert refusal["user"] == "U2" and "#sre-platform" in refusal["text"]
    # members of the group are served
    assert "Starting" in app.dispatch(command("checkout fails in the web app", user="U1")).body
    fake.wait_for(lambda: len(answers(fake)) == 1)
    assert len(fake.of("usergroups.users.list")) == 1  # cached


def test_unconfigured_channel_gets_a_clear_message(
    fake: FakeSlack, store: SqliteSessionStore, chain: Path, tmp_path: Path
) -> None:
    config = SlackConfig.model_validate(
        {"channels": {"C1": {"bundle": str(chain)}}, "allow": {"contact": "#sre-platform"}}
    )
    app = make_app(fake, store, config, tmp_path)
    resp = app.dispatch(command("checkout fails", channel="C7"))
    assert "no telemetry configured" in resp.body and "#sre-platform" in resp.body
    assert app.dispatch(command("")).body.startswith("describe the symptom")
    assert "unknown option --bogus" in app.dispatch(command("x --bogus 1")).body


def test_block_kit_limits_hold_with_a_visible_truncation_note() -> None:
    view = _hostile_view("x" * 5000)
    view.hypotheses = [
        h.model_copy(update={"rank": n, "deciding": h.deciding * 12})
        for n in range(1, 11)
        for h in view.hypotheses[:1]
    ]
    view.gaps = view.gaps * 30
    view.notes = view.notes * 30
    rendered = blocks.answer_blocks(view, "T1/C1/1.1")
    assert len(rendered) <= blocks.MAX_BLOCKS
    assert len(json.dumps(rendered, ensure_ascii=False)) <= blocks.MAX_MESSAGE_CHARS
    assert blocks.TRUNCATED in json.dumps(rendered, ensure_ascii=False)
    assert rendered[-1]["block_id"] == "answer"  # the report and feedback buttons survive
    for block in rendered:
        if block["type"] == "section":
            assert len(block["text"]["text"]) <= blocks.MAX_SECTION_TEXT
        if block["type"] == "context":
            assert len(block["elements"]) <= blocks.MAX_CONTEXT_ELEMENTS
            assert all(len(e["text"]) <= blocks.MAX_CONTEXT_TEXT for e in block["elements"])


def test_tokens_come_from_secrets_manager_and_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    import boto3
    from moto import mock_aws

    from slackbot.secrets import load_secrets

    with mock_aws():
        client = boto3.client("secretsmanager", region_name="eu-central-1")
        client.create_secret(
            Name="rca/slack",
            SecretString=json.dumps(
                {
                    "SLACK_BOT_TOKEN": "xoxb-secret-value-1",
                    "SLACK_SIGNING_SECRET": "sig-secret-value",
                }
            ),
        )
        monkeypatch.setenv("RCA_SLACK_SECRET_ID", "rca/slack")
        secrets = load_secrets(client)
    assert (
        secrets.bot_token is not None
        and secrets.bot_token.get_secret_value() == "xoxb-secret-value-1"
    )
    assert "xoxb-secret-value-1" not in repr(secrets) and "sig-secret-value" not in str(secrets)
    with pytest.raises(Exception) as missing:
        secrets.require("app_token")
    assert "SLACK_APP_TOKEN" in str(missing.value) and "xoxb" not in str(missing.value)

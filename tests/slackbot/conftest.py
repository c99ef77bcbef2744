"""Fixtures for the Slack app: a fake Web API on 127.0.0.1, signed requests, the app."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from slack_bolt import App, BoltRequest
from slack_sdk import WebClient
from slack_sdk.signature import SignatureVerifier

from agent.service import InvestigationService
from agent.sessions import SqliteSessionStore
from slackbot.app import build_app
from slackbot.config import SlackConfig
from slackbot.dedupe import SqliteEventClaims
from tests.builders import write_chain_bundle
from tests.slackbot.fake_slack import BOT_TOKEN, BOT_USER, FakeSlack

SECRET = "test-signing-secret-0123456789"


@pytest.fixture(scope="session")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("slack") / "chain")


@pytest.fixture
def fake() -> Iterator[FakeSlack]:
    server = FakeSlack().start()
    yield server
    server.stop()


@pytest.fixture
def store(tmp_path: Path) -> SqliteSessionStore:
    return SqliteSessionStore(tmp_path / "rca.db")


def make_app(
    fake: FakeSlack,
    store: SqliteSessionStore,
    config: SlackConfig,
    tmp_path: Path,
    **kwargs: Any,
) -> App:
    client = WebClient(token=BOT_TOKEN, base_url=fake.base_url)
    return build_app(
        config,
        InvestigationService(store),
        SqliteEventClaims(tmp_path / "rca.db"),
        client=client,
        signing_secret=SECRET,
        **kwargs,
    )


def chain_config(chain: Path, **allow: Any) -> SlackConfig:
    return SlackConfig.model_validate(
        {"default": {"bundle": str(chain)}, "allow": {"contact": "#sre-platform", **allow}}
    )


def signed(
    body: str,
    content_type: str,
    *,
    timestamp: int | None = None,
    secret: str = SECRET,
    headers: dict[str, str] | None = None,
) -> BoltRequest:
    """A request signed like Slack signs it (v0 HMAC-SHA256 of ``v0:timestamp:body``)."""
    ts = str(timestamp if timestamp is not None else int(time.time()))
    all_headers = {
        "content-type": [content_type],
        "x-slack-signature": [
            SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
        ],
        "x-slack-request-timestamp": [ts],
    }
    for k, v in (headers or {}).items():
        all_headers[k] = [v]
    return BoltRequest(body=body, headers=all_headers)


def command(
    text: str,
    *,
    channel: str = "C1",
    user: str = "U1",
    team: str = "T1",
    name: str = "/rca",
    **kw: Any,
) -> BoltRequest:
    body = urlencode(
        {
            "token": "legacy",
            "team_id": team,
            "channel_id": channel,
            "user_id": user,
            "command": name,
            "text": text,
            "response_url": "https://hooks.slack.com/commands/T1/1/x",
            "trigger_id": "1.2.3",
        }
    )
    return signed(body, "application/x-www-form-urlencoded", **kw)


def event(evt: dict[str, Any], event_id: str, *, team: str = "T1", **kw: Any) -> BoltRequest:
    body = json.dumps(
        {
            "token": "legacy",
            "team_id": team,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": evt,
            "authorizations": [{"team_id": team, "user_id": BOT_USER, "is_bot": True}],
        }
    )
    return signed(body, "application/json", **kw)


def action(
    action_id: str,
    value: dict[str, Any],
    *,
    channel: str = "C1",
    message_ts: str,
    thread_ts: str | None = None,
    user: str = "U1",
) -> BoltRequest:
    payload = {
        "type": "block_actions",
        "team": {"id": "T1"},
        "user": {"id": user},
        "api_app_id": "A1",
        "trigger_id": "trig-1",
        "channel": {"id": channel},
        "container": {"type": "message", "message_ts": message_ts, "channel_id": channel},
        "message": {"ts": message_ts, "thread_ts": thread_ts or message_ts},
        "actions": [{"action_id": action_id, "value": json.dumps(value), "type": "button"}],
    }
    return signed("payload=" + quote(json.dumps(payload)), "application/x-www-form-urlencoded")


def answers(fake: FakeSlack) -> list[dict[str, Any]]:
    """The answer messages posted (those whose first block is the hypotheses header)."""
    return [
        p
        for p in fake.of("chat.postMessage")
        if p.get("blocks") and p["blocks"][0].get("type") == "header"
    ]


def all_text(params: dict[str, Any]) -> list[str]:
    """Every string inside a recorded call's text and blocks."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for k, v in value.items():
                if k not in ("value", "action_id", "block_id", "_token", "private_metadata"):
                    walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk({k: params.get(k) for k in ("text", "blocks")})
    return found

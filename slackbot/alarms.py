"""Alarm-started investigations on Lambda: EventBridge alarm state change -> Slack channel.

``handler`` receives the ``CloudWatch Alarm State Change`` event (the EventBridge rule already
filters state ``ALARM`` and the alarm-name prefixes), checks the optional tag
(``RCA_ALARM_TAG=key=value``, CloudWatch ``ListTagsForResource``: the event carries no tags),
maps the alarm to a C4 element (:func:`agent.alarms.map_component`), starts an investigation
through :class:`agent.service.InvestigationService` with the question built from the alarm
and the element as focus, and posts the answer (Block Kit, :mod:`slackbot.blocks`) to the
channel configured for that element (``RCA_ALARM_CHANNELS``: JSON ``{element name or id:
channel id}``), else ``RCA_SLACK_CHANNEL``. The session key is one per alarm transition, so a
redelivered event posts nothing twice.

Other configuration: :class:`agent.runtime.RuntimeSettings` (workspace, accounts, Regions,
role, model, sessions table) and ``RCA_SLACK_SECRET_ID`` (:mod:`slackbot.secrets`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from aws_lambda_powertools import Logger
from pydantic import ValidationError

from agent.alarms import AlarmEvent, map_component, question_for, session_key, window_for
from agent.runtime import RuntimeSettings
from agent.service import InvestigationService
from agent.sessions import VersionConflict, open_store
from slackbot import blocks
from tools.aws.session import make_client
from tools.c4 import ArchitectureModel, Element
from tools.errors import RcaError

logger = Logger(service="rca-alarms")


def channel_for(element: Element | None, channels: Mapping[str, str], default: str) -> str:
    """The channel of ``element`` (by name, then id), else ``default``."""
    if element is not None:
        for ref in (element.name, element.id):
            if ref in channels:
                return channels[ref]
    return default


def has_tag(alarm: AlarmEvent, tag: str | None, cloudwatch: Any = None) -> bool:
    """True when no tag is required, or the alarm carries ``key=value``."""
    if not tag:
        return True
    if alarm.alarm_arn is None:
        return False
    key, _, value = tag.partition("=")
    client = cloudwatch or make_client("cloudwatch", region=alarm.region)
    tags = client.list_tags_for_resource(ResourceARN=alarm.alarm_arn).get("Tags", [])
    return any(t.get("Key") == key and t.get("Value") == value for t in tags)


def handle(
    event: dict[str, Any],
    *,
    service: InvestigationService,
    settings: RuntimeSettings,
    slack: Any,
    channels: Mapping[str, str],
    default_channel: str,
    architecture: ArchitectureModel | None = None,
    tag: str | None = None,
    cloudwatch: Any = None,
) -> dict[str, Any]:
    """Investigate one alarm event and post the answer; returns what happened
    (``{"status": "posted"|"skipped"|"duplicate", ...}``).

    Raises:
        RcaError: the workspace cannot be read, or the investigation failed (after posting a
            short failure notice to the channel).
    """
    try:
        alarm = AlarmEvent.model_validate(event)
    except ValidationError as exc:
        return {"status": "skipped", "reason": f"not an alarm state change: {exc.errors()[0]}"}
    if alarm.detail.state.value != "ALARM":
        return {"status": "skipped", "reason": f"state {alarm.detail.state.value}"}
    if not has_tag(alarm, tag, cloudwatch):
        return {"status": "skipped", "reason": f"alarm lacks the tag {tag}"}
    arch = architecture or settings.architecture()
    element, how = map_component(arch, alarm)
    channel = channel_for(element, channels, default_channel)
    key = session_key(alarm)
    logger.info(
        "alarm investigation",
        extra={"alarm": alarm.detail.alarm_name, "key": key, "component": how},
    )
    try:
        record = service.start(
            key,
            question_for(alarm, element),
            settings.source(),
            model=settings.model(8),
            window=window_for(alarm),
            focus=[element.id] if element else None,
        )
    except VersionConflict:
        return {"status": "duplicate", "session": key}
    except RcaError as exc:
        slack.chat_postMessage(
            channel=channel,
            text=f":x: Could not investigate alarm {blocks.safe(alarm.detail.alarm_name, 200)}: "
            f"{blocks.safe(str(exc), 1500)}",
        )
        raise
    view = service.view(record)
    header = (
        f":rotating_light: Alarm *{blocks.safe(alarm.detail.alarm_name, 200)}* went to ALARM; "
        f"investigated {blocks.safe(element.name if element else 'the system', 200)} "
        f"({blocks.safe(how, 200)})."
    )
    reply = slack.chat_postMessage(
        channel=channel,
        text=header,
        blocks=[blocks.section(header), *blocks.answer_blocks(view, record.id)][:50],
    )
    return {
        "status": "posted",
        "session": key,
        "channel": channel,
        "component": element.name if element else None,
        "ts": reply.get("ts"),
    }


_state: dict[str, Any] = {}


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """The Lambda entry point (configuration from the environment, built once)."""
    if not _state:
        from slack_sdk import WebClient

        from slackbot.secrets import load_secrets

        secrets = load_secrets()
        secrets.require("bot_token")
        assert secrets.bot_token is not None
        _state["settings"] = RuntimeSettings.from_env()
        _state["service"] = InvestigationService(open_store(), tools=_state["settings"].tools())
        _state["slack"] = WebClient(token=secrets.bot_token.get_secret_value())
        _state["channels"] = json.loads(os.environ.get("RCA_ALARM_CHANNELS") or "{}")
    return handle(
        event,
        service=_state["service"],
        settings=_state["settings"],
        slack=_state["slack"],
        channels=_state["channels"],
        default_channel=os.environ["RCA_SLACK_CHANNEL"],
        tag=os.environ.get("RCA_ALARM_TAG") or None,
    )

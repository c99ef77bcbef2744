"""Fixtures of the AWS tests: the demo bundle (or the chain bundle) and stubbed clients."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.builders import write_chain_bundle
from tests.conftest import REPO

DEMO = REPO / "scenarios" / "bundles" / "connected-vehicle-sg"
EVENTS = Path(__file__).with_name("events")


@pytest.fixture(scope="session")
def scenario_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo bundle when present, else the hand-built chain bundle."""
    if (DEMO / "incident.yaml").is_file():
        return DEMO
    return write_chain_bundle(tmp_path_factory.mktemp("bundle") / "chain")


@pytest.fixture(scope="session")
def chain_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("chain") / "chain")


def client(service: str, **config: Any) -> Any:
    """A real boto3 client (fake credentials from the autouse fixture), for Stubber."""
    return boto3.client(
        service,
        region_name="eu-central-1",
        config=Config(retries={"mode": "standard", "max_attempts": 3}, **config),
    )


def event(name: str) -> dict[str, Any]:
    """A JSON event fixture from tests/aws/events by name."""
    return json.loads((EVENTS / f"{name}.json").read_text(encoding="utf-8"))

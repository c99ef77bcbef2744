"""One synthesis of the whole CDK app per test session (cdk-nag attached, bundling skipped)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import infra  # noqa: F401  (before any aws_cdk import: jsii runs on the packaged Node.js LTS)


@dataclass
class Synthesized:
    deployment: Any
    config: Any
    outdir: Path
    templates: dict[str, dict[str, Any]]
    report: dict[str, Any]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    from aws_cdk import App

    from infra.app import build
    from infra.config import EXAMPLE, load_config

    outdir = tmp_path_factory.mktemp("cdk") / "cdk.out"
    app = App(outdir=str(outdir), context={"aws:cdk:bundling-stacks": []})
    config, base = load_config(EXAMPLE)
    deployment = build(config, base, app=app)
    app.synth()  # raises ValidationFailed on any unacknowledged cdk-nag error
    templates = {
        concern: json.loads((outdir / f"{stack.stack_name}.template.json").read_text())
        for concern, stack in deployment.stacks.items()
    }
    report_file = outdir / "validation-report.json"
    report = json.loads(report_file.read_text()) if report_file.exists() else {}
    return Synthesized(deployment, config, outdir, templates, report)

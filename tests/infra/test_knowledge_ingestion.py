"""Knowledge Base ingestion on deploy: a custom resource calls bedrock-agent StartIngestionJob
after the guidance is in S3, and again when the guidance changes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.validate import validate_parameters

from infra.stacks.knowledge_stack import KnowledgeStack, guidance_digest


def guidance(root: Path, text: str) -> Path:
    lens = root / "wellarchitected"
    lens.mkdir(parents=True)
    (lens / "REL09-BP02.md").write_text(text)
    (lens / "REL09-BP02.md.metadata.json").write_text(
        json.dumps({"metadataAttributes": {"lens": "wellarchitected", "pillar": "reliability"}})
    )
    return root


def synth(tmp_path: Path, folder: Path) -> dict[str, Any]:
    from aws_cdk import App, Validations
    from aws_cdk.assertions import Template
    from cdk_nag import AwsSolutionsChecks

    from infra.config import EXAMPLE, load_config

    config, _ = load_config(EXAMPLE)
    app = App(outdir=str(tmp_path / "out"), context={"aws:cdk:bundling-stacks": []})
    stack = KnowledgeStack(app, "kb", config=config, guidance=folder)
    Validations.of(app).add_plugins(AwsSolutionsChecks(app))
    app.synth()  # cdk-nag: raises on an unacknowledged finding
    return Template.from_stack(stack).to_json()


def sdk_call(template: dict[str, Any], key: str) -> tuple[dict[str, Any], list[str]]:
    """The custom resource's ``Create``/``Update`` call with the GetAtt parts named."""
    (resource,) = [r for r in template["Resources"].values() if r["Type"] == "Custom::AWS"]
    parts = resource["Properties"][key]["Fn::Join"][1]
    text = "".join(p if isinstance(p, str) else "@" + p["Fn::GetAtt"][0] for p in parts)
    return json.loads(text), resource["DependsOn"]


@pytest.fixture(scope="module")
def first(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    root = tmp_path_factory.mktemp("kb")
    folder = guidance(root / "g", "Back up data automatically.")
    return synth(root, folder), folder


def test_ingestion_starts_after_the_guidance_is_deployed(
    first: tuple[dict[str, Any], Path],
) -> None:
    template, folder = first
    logical = {r["Type"]: k for k, r in template["Resources"].items()}
    for key in ("Create", "Update"):
        call, depends = sdk_call(template, key)
        assert call["service"] == "bedrock-agent" and call["action"] == "StartIngestionJob"
        params = call["parameters"]
        assert params["knowledgeBaseId"] == "@" + logical["AWS::Bedrock::KnowledgeBase"]
        assert params["dataSourceId"] == "@" + logical["AWS::Bedrock::DataSource"]
        assert params["clientToken"] == guidance_digest(folder)
        # the documented request shape (ids are 10 alphanumerics once deployed)
        model = boto3.client("bedrock-agent", region_name="eu-west-1").meta.service_model
        shape = model.operation_model("StartIngestionJob").input_shape
        validate_parameters(
            {**params, "knowledgeBaseId": "KB12345678", "dataSourceId": "DS12345678"}, shape
        )
        assert 33 <= len(params["clientToken"]) <= 256 and len(params["description"]) <= 200
        assert logical["Custom::CDKBucketDeployment"] in depends  # the guidance is in S3 first
        assert logical["AWS::Bedrock::DataSource"] in depends
    (policy,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy"
        and any(
            s.get("Sid") == "StartIngestion" for s in r["Properties"]["PolicyDocument"]["Statement"]
        )
    ]
    (statement,) = policy["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Action"] == "bedrock:StartIngestionJob"
    assert statement["Resource"] == {
        "Fn::GetAtt": [logical["AWS::Bedrock::KnowledgeBase"], "KnowledgeBaseArn"]
    }


def test_changed_guidance_runs_the_ingestion_again(
    first: tuple[dict[str, Any], Path], tmp_path: Path
) -> None:
    template, _ = first
    same = synth(tmp_path / "same", guidance(tmp_path / "g1", "Back up data automatically."))
    changed = synth(tmp_path / "new", guidance(tmp_path / "g2", "Back up data every hour."))
    before, _ = sdk_call(template, "Update")
    assert sdk_call(same, "Update")[0] == before  # nothing changed: no update, no new job
    after, _ = sdk_call(changed, "Update")
    assert after["parameters"]["clientToken"] != before["parameters"]["clientToken"]
    assert after["physicalResourceId"] != before["physicalResourceId"]

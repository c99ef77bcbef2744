"""Knowledge Base export (documents + .metadata.json sidecars) and the ``rca lens`` commands."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cli.lens import lens_app
from lenses.catalog import LensError, load_guidance, load_lens
from reviews.kb_export import MAX_SIDECAR_BYTES, document_names, export_kb, write_notes

runner = CliRunner()


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("kb")
    result = export_kb(out)
    assert (result.lens, result.version, len(result.documents)) == (
        "wellarchitected",
        "2024-06-27",
        308,
    )
    assert result.files == 616
    return out


def test_one_document_and_one_sidecar_per_best_practice(exported: Path) -> None:
    documents = sorted(exported.glob("*.md"))
    sidecars = sorted(exported.glob("*.md.metadata.json"))
    assert len(documents) == len(sidecars) == 308
    assert len(list(exported.iterdir())) == 616
    assert {d.name + ".metadata.json" for d in documents} == {s.name for s in sidecars}


def test_sidecar_shape_is_the_bedrock_s3_format(exported: Path) -> None:
    doc = exported / "rel_fault_isolation_multiaz_region_system.md"
    sidecar = json.loads((exported / (doc.name + ".metadata.json")).read_text())
    assert sidecar == {
        "metadataAttributes": {
            "lens": "wellarchitected",
            "pillar": "reliability",
            "question_id": "fault-isolation",
            "choice_id": "rel_fault_isolation_multiaz_region_system",
            "risk": "HIGH",
        }
    }
    for path in exported.glob("*.metadata.json"):
        raw = path.read_bytes()
        assert len(raw) <= MAX_SIDECAR_BYTES
        data = json.loads(raw)
        assert list(data) == ["metadataAttributes"]
        attrs = data["metadataAttributes"]
        assert list(attrs) == ["lens", "pillar", "question_id", "choice_id", "risk"]
        assert all(isinstance(v, str) and v for v in attrs.values())
        assert path.name == f"{attrs['choice_id']}.md.metadata.json"
    text = doc.read_text()
    assert text.startswith("# Deploy the workload to multiple locations\n")
    assert "## Signals in a design\n- multi-AZ\n" in text


def test_export_is_idempotent_and_leaves_other_files(exported: Path) -> None:
    (exported / "README.txt").write_text("keep me")
    before = (exported / "ops_priorities_ext_cust_needs.md").read_text()
    export_kb(exported)
    assert (exported / "README.txt").read_text() == "keep me"
    assert (exported / "ops_priorities_ext_cust_needs.md").read_text() == before
    (exported / "README.txt").unlink()


def test_repeated_choice_ids_get_question_prefixes(tmp_path: Path) -> None:
    notes = load_guidance(load_lens("wellarchitected"))[:2]
    clash = [notes[0], notes[1].model_copy(update={"choice_id": notes[0].choice_id})]
    assert document_names(clash) == ["priorities.ops_priorities_ext_cust_needs.md"] * 2
    with pytest.raises(LensError, match="several notes map to the same document name"):
        write_notes(clash, tmp_path)
    other = clash[1].model_copy(update={"question_id": "ops-model"})
    assert document_names([clash[0], other]) == [
        "priorities.ops_priorities_ext_cust_needs.md",
        "ops-model.ops_priorities_ext_cust_needs.md",
    ]
    written = write_notes([clash[0], other], tmp_path)
    assert [p.name for p in written] == document_names([clash[0], other])


def test_cli_export_kb(tmp_path: Path) -> None:
    result = runner.invoke(lens_app, ["export-kb", str(tmp_path / "kb"), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert (doc["lens"], doc["files"], len(doc["documents"])) == ("wellarchitected", 616, 308)
    assert len(list((tmp_path / "kb").glob("*.md.metadata.json"))) == 308

    plain = runner.invoke(lens_app, ["export-kb", str(tmp_path / "kb2")])
    assert plain.exit_code == 0
    assert plain.stdout == ""
    assert "wrote 308 documents and 308 metadata sidecars" in plain.stderr


def test_cli_export_kb_unknown_lens_is_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(lens_app, ["export-kb", str(tmp_path), "--lens", "nope"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: no lens 'nope'")


def test_cli_validate(tmp_path: Path) -> None:
    result = runner.invoke(lens_app, ["validate", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout) == {
        "lens": "wellarchitected",
        "name": "AWS Well-Architected Framework",
        "version": "2024-06-27",
        "pillars": 6,
        "questions": 57,
        "best_practices": 308,
        "none_choices": 57,
        "guidance_notes": 308,
    }
    bad = tmp_path / "bad.json"
    bad.write_text('{"schemaVersion": "2021-11-01", "name": "x", "pillars": []}')
    result = runner.invoke(lens_app, ["validate", str(bad)])
    assert result.exit_code == 1
    assert "invalid lens, 1 problem: pillars: a lens needs at least one pillar" in result.stderr


def test_cli_search_local(tmp_path: Path) -> None:
    result = runner.invoke(
        lens_app,
        ["search", "multi-AZ RDS failover", "--pillar", "reliability", "-k", "2", "--json"],
    )
    assert result.exit_code == 0, result.output
    passages = json.loads(result.stdout)
    assert next(p["source"] for p in passages) == "rel_fault_isolation_multiaz_region_system"
    assert all(p["metadata"]["pillar"] == "reliability" for p in passages)
    result = runner.invoke(
        lens_app, ["search", "backup", "--question", "backing-up-data", "-k", "2"]
    )
    assert result.exit_code == 0
    assert result.stdout.count("backing-up-data") == 2

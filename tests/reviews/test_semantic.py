"""The semantic matcher: a latent semantic space fitted at review time, nothing downloaded."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lenses.catalog import GuidanceNote
from reviews.assessors.lexical import content_of, document_views
from reviews.assessors.semantic import build_space, guidance_tokens, semantic_feature, space_for
from reviews.document import understand
from tests.reviews import pdfs
from tests.reviews.conftest import design_page

REPO = Path(__file__).resolve().parents[2]

#: practice -> (a paraphrase of its guidance, an unrelated design statement)
PARAPHRASES = {
    "ops_dev_integ_multi_env": (
        "Every change goes through dev and a staging account before it reaches prod.",
        "Invoices are emailed to the finance team at the end of each month.",
    ),
    "ops_ready_to_support_use_runbooks": (
        "On-call engineers follow written step-by-step instructions for routine tasks.",
        "Aurora replicates the orders table to the second Region.",
    ),
    "sec_identities_enforce_mechanisms": (
        "Administrators log in with MFA and passwords must be long.",
        "Each scanned page is split into text blocks before classification.",
    ),
    "rel_backing_up_data_identified_backups_data": (
        "Nightly snapshots of every database are kept for 35 days.",
        "The web tier serves static pages through a content delivery network.",
    ),
}


def test_a_paraphrase_of_the_guidance_is_closer_than_an_unrelated_statement(
    notes: list[GuidanceNote],
) -> None:
    lines = [line for pair in PARAPHRASES.values() for line in pair]
    model = understand(design_page("Architecture Overview\n" + "\n".join(lines)))
    views = document_views(model, deep=False)
    index = {v.stmt.text: v.stmt.index for v in views.views}
    space = space_for(views, guidance_tokens(notes))
    for choice, (paraphrase, unrelated) in PARAPHRASES.items():
        cos = space.cosines(choice, [index[paraphrase], index[unrelated]])
        assert cos[index[paraphrase]] > cos[index[unrelated]] + 0.05, choice
        # the practice's feature is its best cosine, at least the paraphrase's
        assert semantic_feature(space, choice, views) >= cos[index[paraphrase]]


def test_words_that_share_contexts_are_close_without_sharing_a_word() -> None:
    """Second-order co-occurrence: "snapshot" meets "backup" only in another note."""
    notes = {
        "backup": content_of("back up and restore data, restore tests"),
        "snapshots": content_of("snapshot schedule, back up, restore"),
        "billing": content_of("invoice, billing, budget"),
        "budgets": content_of("budget alarm, cost, billing"),
    }
    statements = {
        1: content_of("snapshot on a schedule"),
        2: content_of("monthly invoice and cost"),
        3: content_of("restore schedule"),
    }
    assert not set(notes["backup"]) & set(statements[1])  # no word in common
    space = build_space(notes, statements, dimensions=2)
    cos = space.cosines("backup", [1, 2])
    assert cos[1] > 0.5 > cos[2]
    # the full tf-idf space (no reduction) sees nothing in common
    full = build_space(notes, statements, dimensions=100)
    assert full.cosines("backup", [1])[1] < 0.3 < space.cosines("backup", [1])[1]


def test_degenerate_inputs_give_an_empty_or_tfidf_space() -> None:
    assert build_space({}, {}).dimensions == 0
    tiny = build_space({"a": ("kms", "key")}, {1: ("kms", "key")})
    assert tiny.cosines("a", [1, 9]) == {1: pytest.approx(0.0), 9: 0.0}  # no term in 2 contexts
    two = build_space({"a": ("kms", "key")}, {1: ("kms", "key"), 2: ("kms", "vpc")})
    assert two.cosines("missing", [1]) == {1: 0.0}
    assert two.cosines("a", [1])[1] > two.cosines("a", [2])[2]


def test_the_space_is_fitted_once_per_document_content(notes: list[GuidanceNote]) -> None:
    guidance = guidance_tokens(notes)
    text = "Architecture Overview\nNightly snapshots of every database are kept for 35 days."
    first = space_for(document_views(understand(design_page(text)), deep=False), guidance)
    again = space_for(document_views(understand(design_page(text)), deep=False), guidance)
    other = space_for(
        document_views(understand(design_page(text + "\nMFA is required.")), deep=False),
        guidance,
    )
    assert again is first and other is not first


_OFFLINE = r"""
import socket, sys
def _refuse(*a, **k):
    raise RuntimeError("network use during a review: %r" % (a[:1],))
socket.socket.connect = _refuse
socket.socket.connect_ex = _refuse
socket.create_connection = _refuse
socket.getaddrinfo = _refuse
from pathlib import Path
from lenses.catalog import load_guidance, load_lens
from reviews.assessors.lexical import document_views
from reviews.assessors.semantic import guidance_tokens, semantic_feature, space_for
from reviews.document import understand
from reviews.extract import PdfPlumberExtractor
views = document_views(understand(PdfPlumberExtractor().extract(Path(sys.argv[1]))), False)
space = space_for(views, guidance_tokens(load_guidance(load_lens("wellarchitected"))))
print("semantic", semantic_feature(space, "ops_ready_to_support_use_runbooks", views),
      file=sys.stderr)
from cli.main import app
sys.argv = ["rca", "review", sys.argv[1], "--pillar", "ops", "--json", "--out", sys.argv[2]]
app()
"""


def test_a_review_runs_with_the_network_refused_and_hubs_offline(tmp_path: Path) -> None:
    """The semantic space is fitted and the CLI reviews a PDF with every socket connection
    refused and the Hugging Face hubs offline (nothing is downloaded)."""
    pdf = tmp_path / "design.pdf"
    pdf.write_bytes(
        pdfs.text_pdf(
            [
                ["Operations Design"],
                [
                    "Deployment",
                    "Every change goes through dev and staging accounts before prod.",
                    "Operators follow runbooks kept in Systems Manager Automation.",
                ],
            ]
        )
    )
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "RCA_HOME": str(tmp_path / "home"),
    }
    done = subprocess.run(
        [sys.executable, "-c", _OFFLINE, str(pdf), str(tmp_path / "out")],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assessment = json.loads(done.stdout)
    assessment = assessment.get("assessment", assessment)
    verdicts = {
        bp["choice_id"]: bp["verdict"]
        for q in assessment["questions"]
        for bp in q["best_practices"]
    }
    assert verdicts["ops_ready_to_support_use_runbooks"] in ("addressed", "partly")
    assert "network use" not in done.stderr
    (line,) = [x for x in done.stderr.splitlines() if x.startswith("semantic ")]
    assert float(line.split()[1]) > 0.2  # the runbook line is close to the runbook practice
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir())  # reports went to --out
    assert not list(REPO.glob("review-*"))

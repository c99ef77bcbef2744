"""Topical affinity of a statement to a practice's pillar, learnt from guidance notes alone."""

from __future__ import annotations

import pytest

from lenses.catalog import GuidanceNote
from reviews.assessors.affinity import best_affinity, build_topics
from reviews.assessors.lexical import build_corpus, content_of, document_views, practice_evidence
from reviews.document import understand
from tests.reviews.conftest import design_page
from tests.reviews.test_lexical import _note as lexical_note


def _note(
    pillar: str, question: str, choice: str, title: str, good: str, signals: list[str]
) -> GuidanceNote:
    note = lexical_note(title, good, signals, choice)
    return note.model_copy(update={"pillar_id": pillar, "question_id": question})


NOTES = [
    _note(
        "security",
        "sec-identity",
        "s1",
        "Use strong identity foundations",
        "IAM roles with least privilege grant access; MFA protects human users.",
        ["IAM roles", "least privilege", "MFA", "permission boundaries"],
    ),
    _note(
        "security",
        "sec-data",
        "s2",
        "Encrypt data at rest",
        "KMS keys encrypt data at rest; key rotation is enabled.",
        ["KMS key", "encryption at rest", "key rotation"],
    ),
    _note(
        "cost",
        "cost-governance",
        "c1",
        "Implement groups and roles",
        "Cost allocation tags attribute spend to teams; budgets alert owners.",
        ["cost allocation tags", "tagging policy", "budgets", "roles"],
    ),
    _note(
        "cost",
        "cost-usage",
        "c2",
        "Monitor spend",
        "Cost Explorer reports spend per team and forecasts the monthly bill.",
        ["Cost Explorer", "spend report", "billing alarm"],
    ),
]


def test_an_iam_line_has_low_cost_affinity_and_a_tagging_line_high() -> None:
    topics = build_topics(NOTES)
    iam = content_of("Application servers assume IAM roles with least privilege and MFA.")
    tags = content_of("Every resource carries cost allocation tags per team for budgets.")
    assert topics.pillar_affinity(iam, "cost") < 0.3
    assert topics.pillar_affinity(iam, "security") > 0.7
    assert topics.pillar_affinity(tags, "cost") > 0.7
    # question level: the KMS line belongs to the data question, not identity
    kms = content_of("A KMS key encrypts the database at rest with yearly key rotation.")
    assert topics.question_affinity(kms, "sec-data") > topics.question_affinity(kms, "sec-identity")
    post = topics.posterior(kms)
    assert post is not None and abs(float(post.sum()) - 1.0) < 1e-9


def test_a_statement_without_guidance_words_has_unknown_affinity() -> None:
    topics = build_topics(NOTES)
    unknown = content_of("The quick brown fox jumps over the lazy dog.")
    assert topics.pillar_affinity(unknown, "cost") is None
    assert topics.question_affinity(unknown, "cost-usage") is None
    assert topics.pillar_affinity(content_of("IAM roles"), "no-such-pillar") is None
    # best_affinity: unknown statements are skipped; none known -> the pillar's prior share
    assert best_affinity(topics, [unknown], "cost") == pytest.approx(0.5)
    known = content_of("cost allocation tags")
    assert best_affinity(topics, [unknown, known], "cost") == topics.pillar_affinity(known, "cost")


def test_the_topic_model_is_deterministic_and_order_free() -> None:
    a, b = build_topics(NOTES), build_topics(list(reversed(NOTES)))
    line = content_of("IAM roles and budgets per team")
    assert a.classes == b.classes
    assert a.pillar_affinity(line, "cost") == pytest.approx(b.pillar_affinity(line, "cost"))
    assert a.pillar_affinity(line, "cost") == a.pillar_affinity(line, "cost")  # cached
    with pytest.raises(ValueError):
        build_topics([])


def test_the_affinity_feature_is_the_best_matched_statement_s() -> None:
    """The Cost practice "Implement groups and roles" matched only by "roles" in an IAM line
    gets a low affinity; in a tagging line, a high one; with no match, 0."""
    corpus = build_corpus(NOTES)
    cost_roles = NOTES[2]

    filler = "".join(
        f"- Component {name} runs in container {i} behind the gateway.\n"
        for i, name in enumerate(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta"] * 3)
    )

    def affinity(text: str) -> float:
        # twenty other lines, so that "roles" is rare in the document (a specific word)
        model = understand(design_page(text + "\n## Components\n\n" + filler))
        views = document_views(model, deep=False)
        return practice_evidence(cost_roles, views, corpus).affinity

    iam = affinity(
        "## Access\n\nThe application servers assume IAM roles with least privilege and MFA.\n"
    )
    tags = affinity(
        "## Billing\n\nFinance roles own budgets; cost allocation tags attribute spend to teams.\n"
    )
    none = affinity("## Network\n\nTraffic enters through one load balancer in two zones.\n")
    assert 0.0 < iam < 0.3 < 0.7 < tags
    assert none == 0.0


def test_the_posterior_cache_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    import reviews.assessors.affinity as affinity

    monkeypatch.setattr(affinity, "CACHE_SIZE", 3)
    topics = build_topics(NOTES)
    lines = [content_of(t) for t in ("IAM roles", "budgets", "KMS key", "Cost Explorer", "MFA")]
    first = [topics.pillar_affinity(t, "cost") for t in lines]
    assert len(topics._cache) <= 3
    assert [topics.pillar_affinity(t, "cost") for t in lines] == first

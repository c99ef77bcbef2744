"""Document understanding: sections, table rows as statements, never-evidence lines, qualifiers,
facts."""

from __future__ import annotations

import pytest

from reviews.document import (
    bind_durations,
    qualifiers_of,
    roles_named,
    shows_for,
    summary,
    understand,
)
from reviews.models import DocumentText, PageText
from tests.reviews.conftest import DR, IDP, design_page, extracted

PAGE = """Solution Overview
The workload runs in us-east-1 with a pilot light copy in us-west-2.
Component Count Notes
Web tier 3 Multi-AZ Auto Scaling Group
Current-State Assessment
The existing environment runs on one server with nightly tape backups.
Target Architecture
• Encryption at rest with AWS KMS customer-managed keys
• WAF on the public API (optional)
• Cross-region replication (future)
• SAML federation with the corporate IdP (if required)
• RTO: 30 minutes and RPO: 5 minutes
Glossary
Term Definition
KMS Key Management Service
"""


def _doc() -> DocumentText:
    tables = [
        [["Component", "Count", "Notes"], ["Web tier", "3", "Multi-AZ Auto Scaling Group"]],
        [["Term", "Definition"], ["KMS", "Key Management Service"]],
    ]
    return DocumentText(
        source="d.pdf",
        sha256="b" * 64,
        extractor="pdfplumber",
        pages=[
            PageText(number=1, text="Design\nVersion 1.0"),
            PageText(number=2, text=PAGE, tables=tables),
        ],
    )


def _by_text(model, start: str):  # type: ignore[no-untyped-def]
    return next(s for s in model.statements if s.display.lstrip("• ").startswith(start))


def test_rows_headings_glossary_and_qualifiers() -> None:
    model = understand(_doc())
    row = _by_text(model, "Web tier")
    assert row.text == "Component: Web tier; Count: 3; Notes: Multi-AZ Auto Scaling Group"
    assert row.quote in _doc().page(2).text and row.present
    assert not _by_text(model, "Component Count Notes").evidence  # header row
    assert not _by_text(model, "Solution Overview").evidence  # heading
    assert not _by_text(model, "KMS Key Management Service").evidence  # glossary
    assert not _by_text(model, "Version 1.0").evidence  # title page
    assert "current_state" in _by_text(model, "The existing environment").qualifiers
    assert _by_text(model, "Encryption at rest").present
    assert _by_text(model, "Encryption at rest").section[-1] == "Target Architecture"
    assert "optional" in _by_text(model, "WAF").qualifiers
    assert "future" in _by_text(model, "Cross-region").qualifiers
    assert "conditional" in _by_text(model, "SAML").qualifiers


def test_qualifier_words() -> None:
    assert qualifiers_of("Chaos experiments are planned for a later phase") == {"future"}
    assert qualifiers_of("Multi-Region failover is not implemented") == {"negated"}
    assert qualifiers_of("Training (covered in the Operations Runbook)") == {"out_of_scope"}
    assert qualifiers_of("Route 53 health checks trigger DNS failover") == set()


def test_facts_are_extracted_once_with_pages() -> None:
    model = understand(_doc())
    facts = {(f.name, f.value) for f in model.facts}
    assert {("rto", "30 minutes"), ("rpo", "5 minutes"), ("regions", "us-east-1")} <= facts
    assert ("dr_pattern", "pilot light") in facts and ("encryption", "KMS") in facts
    assert all(f.quote in " ".join(_doc().page(f.page).text.split()) for f in model.facts)
    assert not any(f.value == "SAML" for f in model.facts)  # "(if required)" is not a fact


def test_design_documents_facts_and_no_heading_evidence() -> None:
    dr = understand(extracted(DR))
    assert {f.value for f in dr.fact("rpo")} >= {"60 minutes"}
    assert {f.value for f in dr.fact("rto")} >= {"15 minutes"}
    assert {f.value for f in dr.fact("regions")} >= {"us-east-1", "us-west-2"}
    # "15-minute RTO and 60-minute RPO": each duration belongs to its own metric
    rto = {f.value.replace("-", " ").rstrip("s") for f in dr.fact("rto")}
    rpo = {f.value.replace("-", " ").rstrip("s") for f in dr.fact("rpo")}
    assert "60 minute" not in rto and "15 minute" not in rpo
    idp = understand(extracted(IDP))
    assert {f.value for f in idp.fact("rto")} == {"8 hours"}  # "8-hour RTO", "RTO | 8 hours"
    assert {f.value for f in idp.fact("rpo")} == {"4 hours"}
    warm = [s for s in idp.statements if "Warm standby" in s.text]
    assert warm and all(not s.present for s in warm)  # "(optional, Phase 2)"
    for model in (dr, idp):
        assert not any(s.present and s.text.lower().startswith("term:") for s in model.statements)


def test_purpose_and_scope_lines_are_lead_ins() -> None:
    """Lines of a document's purpose or scope section describe the document: quoted last."""
    text = (
        "Purpose\nDefine the design specifications that guide the implementation team.\n"
        "Scope\n• Monitoring, alerting, and operational procedures\n"
        "Monitoring Design\n• CloudWatch alarms alert on replication lag above 5 seconds\n"
    )
    model = understand(design_page(text))
    assert _by_text(model, "Define the design").lead_in
    assert _by_text(model, "Monitoring, alerting").lead_in
    assert not _by_text(model, "CloudWatch alarms").lead_in


NAMING_PAGE = """Compliance Factors
The solution must adhere to the following regulatory and compliance requirements.
• Encryption at rest with KMS mandatory for all stores
• Audit logging for all operations
Assumptions
• AWS account limits raised before go-live
Open Questions
• Which team owns the runbook?
Data Protection
Data protection controls ensure confidentiality at rest.
• Encryption at Rest: KMS customer-managed keys for Aurora and S3
• Backups must be copied to a second account
• Restore steps are described in the Operations Runbook
Secrets Management
All credentials are managed through AWS Secrets Manager.
• Rotation every 30 days
Diagrams
• Network Topology Diagram
"""


def test_statements_that_only_name_a_concept() -> None:
    """Requirement, assumption and question lists (by heading or by the lead-in that announces
    them), modality, references, section summaries and fragments name; design lines show."""
    model = understand(design_page(NAMING_PAGE))
    assert _by_text(model, "Encryption at rest with KMS").naming == "requirement"  # lead-in
    assert _by_text(model, "Audit logging").naming == "requirement"
    assert _by_text(model, "AWS account limits").naming == "risk"  # an assumption
    assert _by_text(model, "Which team").naming == "question"
    assert _by_text(model, "Data protection controls").naming == "summary"
    assert _by_text(model, "Backups must").naming == "modality"
    assert _by_text(model, "Restore steps").naming == "reference"
    assert _by_text(model, "Network Topology Diagram").naming == "fragment"
    shown = _by_text(model, "Encryption at Rest: KMS")
    assert shown.naming == "" and shown.shows
    # a section's opening sentence that names a component is a design statement, not a summary
    assert _by_text(model, "All credentials are managed").shows
    assert _by_text(model, "Rotation every 30 days").shows
    assert not _by_text(model, "Audit logging").shows


def test_risk_register_rows_with_a_mitigation_show_it() -> None:
    text = (
        "Risk Register\nRisk Likelihood Impact Mitigation\n"
        "Region outage Low High Pilot light copy in a second Region\n"
        "Key Risks\n• Vendor lock-in on the managed services\n"
    )
    tables = [
        [
            ["Risk", "Likelihood", "Impact", "Mitigation"],
            ["Region outage", "Low", "High", "Pilot light copy in a second Region"],
        ]
    ]
    doc = design_page(text)
    doc.pages[1].tables = tables
    model = understand(doc)
    assert _by_text(model, "Region outage").shows
    assert _by_text(model, "Vendor lock-in").naming == "risk"


def test_naming_convention_rows_name_resources_they_show_no_practice() -> None:
    """A naming-convention table names resources ("Lambda Function {env}-{app}-{fn}"): its rows
    only name a concept; a design line naming the same service still shows."""
    text = (
        "Compute Design\n• Lambda functions run in private subnets with reserved concurrency\n"
        "Naming Conventions\nResource Type Pattern Example\n"
        "Lambda Function {env}-{app}-{fn} prod-idp-processor\n"
    )
    doc = design_page(text)
    doc.pages[1].tables = [
        [
            ["Resource Type", "Pattern", "Example"],
            ["Lambda Function", "{env}-{app}-{fn}", "prod-idp-processor"],
        ]
    ]
    model = understand(doc)
    row = _by_text(model, "Lambda Function {env}")
    assert row.naming == "convention" and not row.shows
    assert _by_text(model, "Lambda functions run in private").shows


def test_a_practice_title_that_asks_for_a_list_lets_its_lines_show_it() -> None:
    assert roles_named("Evaluate compliance requirements") == {"requirement"}
    assert roles_named("Define recovery objectives for downtime and data loss") == {"requirement"}
    assert roles_named("Test functional requirements") == set()
    assert roles_named("Automate testing and rollback") == set()
    model = understand(design_page(NAMING_PAGE))
    line = _by_text(model, "Audit logging")
    assert shows_for(line, roles_named("Evaluate compliance requirements"))
    assert not shows_for(line, roles_named("Test functional requirements"))


def _one_page(text: str, table: list[list[str]]) -> DocumentText:
    return DocumentText(
        source="d.pdf",
        sha256="c" * 64,
        extractor="pdfplumber",
        pages=[PageText(number=1, text=text, tables=[table])],
    )


def _headings(model) -> list[str]:  # type: ignore[no-untyped-def]
    return [s.display for s in model.statements if s.kind == "heading"]


def test_wrapped_table_cells_are_one_row_never_a_heading() -> None:
    """A row whose cells wrap over several lines (pdfplumber prints the first line of every cell,
    then the rest: "Gateway" alone) or come one cell per line (Textract) is one row statement;
    its short continuation lines are not headings, so the section stays the table's."""
    wrapped = (
        "Component Design\n"
        "The solution comprises the following components.\n"
        "Component Purpose Technology\n"
        "API Gateway Request routing Amazon API\n"
        "Gateway\n"
        "Document File upload and validation S3 + Lambda\n"
        "Ingestion\n"
        "Data Store Metadata and results DynamoDB\n"
        "Technology Stack\n"
        "Compute runs on AWS Lambda.\n"
    )
    per_cell = wrapped.replace(
        "Document File upload and validation S3 + Lambda\nIngestion",
        "Document\nIngestion\nFile upload and validation\nS3 + Lambda",
    )
    table = [
        ["Component", "Purpose", "Technology"],
        ["API Gateway", "Request routing", "Amazon API\nGateway"],
        ["Document\nIngestion", "File upload and validation", "S3 + Lambda"],
        ["Data Store", "Metadata and results", "DynamoDB"],
    ]
    for text in (wrapped, per_cell):
        model = understand(_one_page(text, table))
        assert _headings(model) == ["Component Design", "Technology Stack"]
        ingestion = _by_text(model, "Document")
        assert ingestion.kind == "row" and ingestion.present
        assert ingestion.text == (
            "Component: Document Ingestion; Purpose: File upload and validation; "
            "Technology: S3 + Lambda"
        )
        assert ingestion.quote in text
        assert _by_text(model, "API Gateway").text.endswith("Technology: Amazon API Gateway")
        for stmt in model.statements[1:-2]:
            assert stmt.section == ("Component Design",), stmt.display
        assert _by_text(model, "Compute runs").section == ("Technology Stack",)


def test_design_documents_table_cells_are_not_headings() -> None:
    """Every table row of both development documents is read as a row; no heading is a line
    of a wrapped cell ("Gateway" of "Amazon API Gateway")."""
    for name in (DR, IDP):
        doc = extracted(name)
        model = understand(doc)
        wrapped = {
            line.strip()
            for p in doc.pages
            for t in p.tables
            for r in t
            for c in r
            if "\n" in c
            for line in c.split("\n")
        }
        headings = {s.display for s in model.statements if s.kind == "heading"}
        assert wrapped or name == DR, name  # the IDP document has wrapped cells
        assert not headings & wrapped, name
        rows = sum(len(t) for p in doc.pages for t in p.tables)
        assert sum(s.kind == "row" for s in model.statements) >= rows, name


def test_a_table_line_no_row_accounts_for_is_not_a_heading() -> None:
    """A line between two rows of one table, all of its words the table's, is a table line (an
    extractor's stray cell fragment) even when no row's words match it: never a heading."""
    text = (
        "Sizing\nEach tier is sized for the peak load of the busiest month of the year.\n"
        "Tier Count\nWeb Tier 3\nApp\nApp Tier 2\nNext Steps\n"
        "The team ships the web tier first and the app tier after it, in two waves.\n"
    )
    model = understand(_one_page(text, [["Tier", "Count"], ["Web Tier", "3"], ["App Tier", "2"]]))
    assert _headings(model) == ["Sizing", "Next Steps"]
    assert _by_text(model, "App Tier 2").section == ("Sizing",)
    assert _by_text(model, "App Tier 2").text == "Tier: App Tier; Count: 2"


def test_sections_follow_the_extracted_heading_structure() -> None:
    """With heading levels from the extractor, sections nest by level, title-page lines and a
    caption repeating a heading's words are not headings, and a short title-like line is not a
    heading for looking like one."""
    from reviews.models import Heading

    text = (
        "Security\n"
        "Access control follows least privilege for every role in the workload.\n"
        "Identity\n"
        "Users sign in through IAM Identity Center with MFA for every console session.\n"
        "Role Definitions\n"
        "Administrators hold the only role that can change IAM policies in production.\n"
        "Secrets Rotation\n"
        "Secrets Manager rotates database credentials every 30 days with a Lambda.\n"
        "Security\n"
        "Operations\n"
        "CloudWatch alarms page the on-call engineer within five minutes of a breach.\n"
    )
    headings = [("Security", 1), ("Identity", 2), ("Role Definitions", 3), ("Operations", 1)]
    doc = DocumentText(
        source="d.pdf",
        sha256="e" * 64,
        extractor="pdfplumber",
        pages=[
            PageText(number=1, text="Big Design Title\nVersion 1.0"),
            PageText(
                number=2,
                text=text,
                headings=[Heading(text=t, level=n) for t, n in headings],
            ),
        ],
    )
    model = understand(doc)
    assert [(s.display, s.section) for s in model.statements if s.kind == "heading"] == [
        ("Security", ("Security",)),
        ("Identity", ("Security", "Identity")),
        ("Role Definitions", ("Security", "Identity", "Role Definitions")),
        ("Operations", ("Operations",)),
    ]
    assert _by_text(model, "Big Design Title").section == ()
    assert _by_text(model, "Secrets Manager").section == (
        "Security",
        "Identity",
        "Role Definitions",
    )
    assert _by_text(model, "CloudWatch").section == ("Operations",)


def test_design_documents_sections_nest_like_their_markdown() -> None:
    for name, statement, path in (
        (
            IDP,
            "Administrator Full system access",
            ("Identity & Access Management", "Role Definitions"),
        ),
        (IDP, "API Gateway Request routing", ("Solution Architecture", "Component Design")),
        (DR, "Define the technical architecture", ("Executive Summary", "Purpose")),
    ):
        model = understand(extracted(name))
        assert _by_text(model, statement).section[-len(path) :] == path, name


@pytest.mark.parametrize(
    ("text", "row", "pairs"),
    [
        (
            "15-minute RTO and 60-minute RPO requirements",
            False,
            [("rto", "15 minutes"), ("rpo", "60 minutes")],
        ),
        (
            "8-hour RTO, 4-hour RPO requirements apply",
            False,
            [("rto", "8 hours"), ("rpo", "4 hours")],
        ),
        ("RTO/RPO of 15 minutes/1 hour", False, [("rto", "15 minutes"), ("rpo", "1 hour")]),
        ("15 min / 60 min RTO/RPO", False, [("rto", "15 minutes"), ("rpo", "60 minutes")]),
        (
            "RTO and RPO of 4 hours and 1 hour respectively",
            False,
            [("rto", "4 hours"), ("rpo", "1 hour")],
        ),
        ("RTO: 15 minutes, RPO: 60 minutes", False, [("rto", "15 minutes"), ("rpo", "60 minutes")]),
        ("RTO 15 minutes RPO 60 minutes", False, [("rto", "15 minutes"), ("rpo", "60 minutes")]),
        ("15 minutes RTO 60 minutes RPO", False, [("rto", "15 minutes"), ("rpo", "60 minutes")]),
        ("RPO: 2 hours. The RTO is 30 minutes", False, [("rpo", "2 hours"), ("rto", "30 minutes")]),
        (
            "RTO of 15 minutes and 60-minute RPO",
            False,
            [("rto", "15 minutes"), ("rpo", "60 minutes")],
        ),
        (
            "recovery time objective of 2 hours and recovery point objective of 15 minutes",
            False,
            [("rto", "2 hours"), ("rpo", "15 minutes")],
        ),
        (
            "RPO achieved: Maximum 60 minutes data loss (target: 45 minutes)",
            False,
            [("rpo", "60 minutes"), ("rpo", "45 minutes")],
        ),
        ("RTO/RPO targets: 15 minutes", False, []),  # which one? ambiguous: not guessed
        ("The RTO is recorded in the runbook, reviewed on a cycle of 30 days", False, []),
        # table rows, read as "column: value" statements
        (
            "Metric: RTO; Target: 15 minutes; Measurement: DR failover testing",
            True,
            [("rto", "15 minutes")],
        ),
        (
            "Component: Aurora; RTO: 15 min; RPO: 5 min",
            True,
            [("rto", "15 minutes"), ("rpo", "5 minutes")],
        ),
        (
            "Framework: SOC 2; Requirement: RTO/RPO defined; Implementation: 15-minute RTO, 60-minute RPO",
            True,
            [("rto", "15 minutes"), ("rpo", "60 minutes")],
        ),
    ],
)
def test_each_duration_binds_to_its_own_metric(
    text: str, row: bool, pairs: list[tuple[str, str]]
) -> None:
    assert bind_durations(text, row=row) == pairs


def test_row_facts_bind_by_column() -> None:
    """A table with RTO and RPO columns: each row's durations go to their column's metric."""
    doc = design_page("Tier RTO RPO\nWeb 15 minutes 60 minutes\n")
    doc.pages[1].tables = [[["Tier", "RTO", "RPO"], ["Web", "15 minutes", "60 minutes"]]]
    model = understand(doc)
    assert {(f.name, f.value) for f in model.facts if f.name in ("rto", "rpo")} == {
        ("rto", "15 minutes"),
        ("rpo", "60 minutes"),
    }


def test_workload_sentence_skips_title_lines() -> None:
    for name in (DR, IDP):
        workload, _ = summary(understand(extracted(name)))
        assert workload.startswith("This document provides the comprehensive technical design")


def test_durations_are_spelled_one_way() -> None:
    from reviews.document import duration_value

    assert [duration_value(t) for t in ("15-minute", "60 min", "1 hr", "2h", "<1 second")] == [
        "15 minutes",
        "60 minutes",
        "1 hour",
        "2 hours",
        "<1 second",
    ]

"""``rca review``: Well-Architected review of a design document, WA Tool pre-fill, follow-up chat.

Commands (added to the main app by :func:`register`):

``rca review DOCUMENT.pdf [--pillar P ...] [--mode quick|deep] [--apply [--yes]]``
    (DOCUMENT: a local path or ``s3://bucket/key.pdf``) extract, assess every question (or
    the chosen pillars), write reports (Markdown and HTML by default), print the risk summary
    and the dry-run plan of WA Tool calls; ``--apply`` writes them after an interactive
    confirmation (``--yes`` skips it). ``--resume ID`` continues an interrupted review (or
    re-applies a finished one) without redoing finished questions.
``rca review-chat REVIEW_ID [QUESTION]``
    answer one question, or chat interactively (empty line or EOF ends) about a stored review.
``rca review-list``
    the stored reviews, newest first, with state and risk counts.
``rca review-report REVIEW_ID [--format md|html|json|csv ...]``
    render the reports of a stored review again.

Exit codes: 0 success, 1 runtime error (one line on stderr; the review record is ``failed``
with the same reason), 2 usage error, 3 high risks found when ``--fail-on-high`` is given.
``--json`` prints exactly one JSON document on stdout. Progress is shown only when stderr is a
terminal.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from cli.common import AsJson, Profile, Quiet, Region, err, fail, guard, out, state
from tools.markup import strip_controls, terminal

if TYPE_CHECKING:  # the review modules are imported by the review commands, not by `rca ask`
    from reviews.models import ReviewRecord
    from reviews.service import ReviewEvent, ReviewService, ReviewSummary

EXIT_HIGH_RISK = 3
PILLAR_ALIASES = {
    "ops": "operationalExcellence",
    "operational-excellence": "operationalExcellence",
    "operationalexcellence": "operationalExcellence",
    "sec": "security",
    "security": "security",
    "rel": "reliability",
    "reliability": "reliability",
    "perf": "performance",
    "performance": "performance",
    "performance-efficiency": "performance",
    "cost": "costOptimization",
    "cost-optimization": "costOptimization",
    "costoptimization": "costOptimization",
    "sus": "sustainability",
    "sustainability": "sustainability",
}


def _pillars(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    out_ids: list[str] = []
    for value in values:
        for part in value.split(","):
            key = part.strip()
            if not key:
                continue
            out_ids.append(PILLAR_ALIASES.get(key.lower(), key))
    return list(dict.fromkeys(out_ids)) or None


def _emit(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload, indent=2, default=str) + "\n")


class _Progress:
    """Review events on stderr, only when stderr is a terminal (and not --quiet)."""

    def __init__(self, quiet: bool) -> None:
        self.enabled = not quiet and err.is_terminal

    def __call__(self, event: ReviewEvent) -> None:
        if not self.enabled:
            return
        data = event.data
        if event.kind == "extracting":
            line = f"extracting {event.text}"
        elif event.kind == "extracted":
            line = f"  {data['pages']} pages, {data['words']} words"
        elif event.kind == "assessment_started":
            line = (
                f"assessing {event.total} questions ({event.done} already done) in "
                f"{data['units']} {data['mode']} requests, {data['workers']} in parallel"
            )
        elif event.kind == "question_assessed":
            line = f"  [{event.done}/{event.total}] {event.number}: {event.risk}"
        elif event.kind == "assessment_finished" and "input_tokens" in data:
            line = (
                f"  {data['requests']} requests: {data['input_tokens']} input tokens "
                f"(+{data['cache_read_tokens']} read from and {data['cache_write_tokens']} "
                f"written to the prompt cache), {data['output_tokens']} output tokens"
            )
        elif event.kind == "throttled":
            line = f"  throttled on {data['unit']} after botocore's retries; no new unit starts"
        elif event.kind == "wa_answer":
            line = f"  {data['question_id']}: {data['action']}"
        elif event.kind in ("wa_workload", "wa_milestone", "wa_report"):
            line = f"  {event.kind.removeprefix('wa_')}: {data}"
        else:
            return
        err.print(strip_controls(line), highlight=False, markup=False)


def _run(service: ReviewService, review_id: str, show: _Progress) -> None:
    """Run a review; a failure is one line, with the resume command unless the input is bad."""
    from reviews.errors import DocumentError, ReviewNotFoundError
    from tools.errors import RcaError

    try:
        service.run(review_id, listener=show)
    except DocumentError as exc:
        if state["debug"]:
            raise
        fail(str(exc))
    except RcaError as exc:
        if state["debug"]:
            raise
        if "--resume" in str(exc) or isinstance(exc, ReviewNotFoundError):  # nothing to add
            fail(str(exc))
        fail(f"{exc} (review {review_id} is kept: `rca review --resume {review_id}` continues it)")
    except KeyboardInterrupt as exc:
        name = getattr(exc, "signal_name", "SIGINT")
        fail(
            f"interrupted by {name}; finished questions are kept: "
            f"`rca review --resume {review_id}` continues the review",
            130,
        )


def _formats(fmt: list[str] | None) -> list[str]:
    from reviews.report import FORMATS

    formats = [f.strip().lower() for value in (fmt or ["md", "html"]) for f in value.split(",")]
    bad = [f for f in formats if f not in FORMATS]
    if bad:
        fail(f"unknown --format {', '.join(bad)}; use {', '.join(FORMATS)}", 2)
    return formats


def _summary(summary: ReviewSummary, record: ReviewRecord, paths: dict[str, Path]) -> None:
    """The risk table per pillar, the top improvements and the report paths (the same view
    model the Slack app renders)."""
    from rich.table import Table

    table = Table(
        title=terminal(
            f"Review {record.id}: {record.document_name} ({summary.mode}, {summary.assessor})"
        )
    )
    risks = ("HIGH", "MEDIUM", "NONE", "NOT_APPLICABLE", "UNANSWERED")
    for column in ("Pillar", "Questions", "High", "Medium", "None", "N/A", "Unanswered"):
        table.add_column(column, justify="left" if column == "Pillar" else "right")
    for p in summary.pillars:
        table.add_row(p.name, str(p.questions), *(str(p.risk_counts[r]) for r in risks))
    t = summary.risk_counts
    table.add_row("Total", str(summary.questions), *(str(t[r]) for r in risks))
    out.print(table)
    if summary.improvements:
        out.print("Top improvements:", highlight=False)
        for i in summary.improvements:
            out.print(
                strip_controls(
                    f"  {i.priority}. {i.number} {i.title} "
                    f"({i.bp_risk or '-'}, {i.verdict.replace('_', ' ')})"
                ),
                highlight=False,
                markup=False,
            )
    for fmt, path in paths.items():
        out.print(strip_controls(f"{fmt} report: {path}"), highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``review``, ``review-chat``, ``review-list`` and ``review-report`` to ``app``."""

    @app.command("review")
    def review(
        document: Annotated[
            str | None,
            typer.Argument(help="The design document (PDF) to review: a path or s3://bucket/key."),
        ] = None,
        pillar: Annotated[
            list[str] | None,
            typer.Option(
                "--pillar",
                "-p",
                help="Pillar to assess (id or ops/sec/rel/perf/cost/sus); repeatable. "
                "Default: all six.",
            ),
        ] = None,
        mode: Annotated[
            str, typer.Option(help="quick (one request per pillar) or deep (one per question).")
        ] = "quick",
        lens: Annotated[
            str, typer.Option(help="Lens alias or custom-lens JSON path.")
        ] = "wellarchitected",
        assessor: Annotated[
            str, typer.Option(help="heuristic (offline, default) or bedrock (Converse).")
        ] = "heuristic",
        model_id: Annotated[str | None, typer.Option(help="Bedrock model id (bedrock).")] = None,
        extractor: Annotated[
            str, typer.Option(help="pdfplumber (local, default) or textract (OCR, needs --bucket).")
        ] = "pdfplumber",
        bucket: Annotated[
            str | None, typer.Option(envvar="RCA_REVIEW_BUCKET", help="S3 bucket for Textract.")
        ] = None,
        kb_id: Annotated[
            str | None,
            typer.Option(help="Bedrock Knowledge Base id for guidance (default: local)."),
        ] = None,
        concurrency: Annotated[int, typer.Option(min=1, max=16, help="Requests in parallel.")] = 4,
        resume: Annotated[
            str | None, typer.Option(help="Continue (or re-apply) the stored review with this id.")
        ] = None,
        out_dir: Annotated[Path, typer.Option("--out", help="Where to write the reports.")] = Path(
            "."
        ),
        fmt: Annotated[
            list[str] | None,
            typer.Option(
                "--format", "-f", help="md, html, json, csv; repeatable (default md, html)."
            ),
        ] = None,
        apply: Annotated[
            bool, typer.Option(help="Write the answers to the AWS Well-Architected Tool.")
        ] = False,
        yes: Annotated[
            bool, typer.Option("--yes", "-y", help="Do not ask before writing.")
        ] = False,
        workload_name: Annotated[
            str | None, typer.Option(help="WA Tool workload (reused when it exists).")
        ] = None,
        environment: Annotated[
            str, typer.Option(help="PRODUCTION or PREPRODUCTION.")
        ] = "PREPRODUCTION",
        fail_on_high: Annotated[
            bool, typer.Option(help="Exit with code 3 when a question has high risk.")
        ] = False,
        profile: Profile = None,
        region: Region = None,
        quiet: Quiet = False,
        as_json: AsJson = False,
    ) -> None:
        """Review a design document against the Well-Architected Framework (or chosen pillars)."""
        if mode not in ("quick", "deep"):
            fail(f"--mode must be quick or deep, not {mode!r}", 2)
        if assessor not in ("heuristic", "bedrock"):
            fail(f"--assessor must be heuristic or bedrock, not {assessor!r}", 2)
        if extractor not in ("pdfplumber", "textract"):
            fail(f"--extractor must be pdfplumber or textract, not {extractor!r}", 2)
        if environment not in ("PRODUCTION", "PREPRODUCTION"):
            fail("--environment must be PRODUCTION or PREPRODUCTION", 2)
        formats = _formats(fmt)
        if (document is None) == (resume is None):
            fail("give a DOCUMENT to review, or --resume REVIEW_ID (not both)", 2)
        if (
            document is not None
            and not document.startswith("s3://")
            and not Path(document).is_file()
        ):
            fail(f"{document}: no such file; give the path of a PDF design document", 2)
        if apply and not yes and not sys.stdin.isatty():
            fail("--apply writes to your AWS account: confirm with --yes when not interactive", 2)

        from reviews.service import ReviewOptions, ReviewService, ReviewSettings

        show = _Progress(quiet or as_json)
        settings = ReviewSettings(
            lens=lens,
            assessor=assessor,  # type: ignore[arg-type]
            extractor=extractor,  # type: ignore[arg-type]
            model_id=model_id,
            knowledge_base_id=kb_id,
            bucket=bucket,
            region=region,
            profile=profile,
            max_workers=concurrency,
        )
        service: ReviewService = guard(ReviewService, settings=settings)
        if resume is not None:
            _run(service, resume, show)  # a completed review is returned unchanged
            review_id = resume
        else:
            assert document is not None
            options = ReviewOptions(mode=mode, pillars=_pillars(pillar) or [])  # type: ignore[arg-type]
            record = guard(service.submit, document, options=options)
            if show.enabled:
                err.print(f"review {record.id} submitted", highlight=False)
            _run(service, record.id, show)
            review_id = record.id
        assessment = guard(service.assessment, review_id)
        record = guard(service.status, review_id)
        paths = guard(service.write_reports, review_id, out_dir, formats)
        plan = guard(
            service.plan,
            review_id,
            workload_name=workload_name,
            environment=environment,
            aws_regions=[region] if region else None,
        )
        plan_path = out_dir / f"review-{review_id}.wa-plan.json"
        plan_path.write_text(plan.model_dump_json(indent=2), encoding="utf-8")
        applied = None
        if apply:
            if not yes:
                err.print(plan.render().split("\n", 2)[0] + f"\n{len(plan.writes())} write calls.")
                if not typer.confirm("Write these answers to the Well-Architected Tool?", err=True):
                    fail("not applied (declined)", 1)
            applied = guard(
                service.apply, review_id, confirm=True, plan=plan, report_dir=out_dir, listener=show
            )
        if as_json:
            _emit(
                {
                    "review": guard(service.status, review_id).model_dump(mode="json"),
                    "assessment": assessment.model_dump(mode="json"),
                    "reports": {k: str(v) for k, v in paths.items()},
                    "wa_plan": str(plan_path),
                    "wa_tool": applied.model_dump(mode="json") if applied else None,
                }
            )
        else:
            _summary(guard(service.summary, review_id), record, paths)
            if applied is None:
                out.print(
                    strip_controls(
                        f"WA Tool dry run: {len(plan.calls)} calls ({len(plan.writes())} writes) "
                        f"for workload {plan.workload_name!r}, full plan in {plan_path}; pass "
                        "--apply to write them"
                    ),
                    highlight=False,
                    markup=False,
                )
                if not quiet:
                    lines = [
                        ln for ln in plan.render().splitlines()[2:] if not ln.startswith("     ")
                    ]
                    if len(lines) > 9:
                        lines = [
                            *lines[:6],
                            f"     ... {len(lines) - 9} more calls ...",
                            *lines[-3:],
                        ]
                    for line in lines:
                        err.print(strip_controls(line), highlight=False, markup=False)
            else:
                out.print(
                    f"WA Tool: workload {applied.workload_id} "
                    f"({'created' if applied.workload_created else 'reused'}), "
                    f"{len(applied.updated)} answers updated, "
                    f"{len(applied.skipped)} already equal, "
                    f"milestone {applied.milestone_number}; risk counts {applied.risk_counts}"
                    + (f"; report {applied.report_path}" if applied.report_path else ""),
                    highlight=False,
                    markup=False,
                )
        if fail_on_high and assessment.risk_counts()["HIGH"]:
            raise typer.Exit(EXIT_HIGH_RISK)

    @app.command("review-chat")
    def review_chat(
        review_id: Annotated[str, typer.Argument(help="The review to ask about.")],
        question: Annotated[
            str | None, typer.Argument(help="One question; omit it to chat interactively.")
        ] = None,
        model: Annotated[
            str, typer.Option(help="heuristic (retrieval, offline) or bedrock (Converse).")
        ] = "heuristic",
        model_id: Annotated[str | None, typer.Option(help="Bedrock model id.")] = None,
        profile: Profile = None,
        region: Region = None,
        as_json: AsJson = False,
    ) -> None:
        """Ask follow-up questions about a review; answers cite pages, questions and guidance."""
        if model not in ("heuristic", "bedrock"):
            fail("--model must be heuristic or bedrock", 2)
        from reviews.models import ChatTurn
        from reviews.service import ReviewService, ReviewSettings

        settings = ReviewSettings(
            chat=model,  # type: ignore[arg-type]
            model_id=model_id,
            region=region,
            profile=profile,
        )
        service: ReviewService = guard(ReviewService, settings=settings)
        guard(service.assessment, review_id)  # a missing review fails before any prompt
        questions = [question] if question else None
        interactive = sys.stdin.isatty()  # piped questions: one a line, no "you:" prompt
        while True:
            if questions is not None:
                if not questions:
                    break
                text = questions.pop(0)
            elif interactive:
                try:
                    text = typer.prompt("you", default="", show_default=False, err=True)
                except (EOFError, typer.Abort):
                    break
                if not text.strip() or text.strip().lower() in ("exit", "quit"):
                    break
            else:
                line = sys.stdin.readline()
                if not line or line.strip().lower() in ("exit", "quit"):
                    break
                text = line.strip()
                if not text:
                    continue  # a blank line between piped questions
            answer = guard(service.chat, review_id, text)
            if as_json:
                turn = ChatTurn(
                    role="assistant",
                    text=answer.text,
                    citations=answer.citations,
                    answered=answer.answered,
                    at=answer.at,
                )
                _emit(turn.model_dump(mode="json"))
            else:
                out.print(strip_controls(answer.text), highlight=False, markup=False)

    @app.command("review-list")
    def review_list(
        limit: Annotated[int, typer.Option(min=1, max=1000, help="How many reviews.")] = 20,
        region: Region = None,
        as_json: AsJson = False,
    ) -> None:
        """List stored reviews, newest first."""
        from reviews.service import ReviewService, ReviewSettings

        service: ReviewService = guard(ReviewService, settings=ReviewSettings(region=region))
        records = guard(service.recent, limit)
        if as_json:
            _emit({"reviews": [r.model_dump(mode="json") for r in records]})
            return
        if not records:
            err.print("no reviews yet; run `rca review DOCUMENT.pdf`", highlight=False)
            return
        for r in records:
            extra = f" ({r.error_kind}: {r.error})" if r.state == "failed" else ""
            out.print(
                strip_controls(
                    f"{r.id}  {r.state:<11} {r.mode:<5} {r.questions_done:>2}/"
                    f"{r.questions_total:<2} {r.document_name}{extra}"
                ),
                highlight=False,
                markup=False,
            )

    @app.command("review-report")
    def review_report(
        review_id: Annotated[str, typer.Argument(help="The stored review.")],
        out_dir: Annotated[Path, typer.Option("--out", help="Where to write.")] = Path("."),
        fmt: Annotated[
            list[str] | None,
            typer.Option("--format", "-f", help="md, html, json, csv; repeatable."),
        ] = None,
        region: Region = None,
    ) -> None:
        """Render the reports of a stored review (complete or not) again."""
        formats = _formats(fmt)
        from reviews.service import ReviewService, ReviewSettings

        service: ReviewService = guard(ReviewService, settings=ReviewSettings(region=region))
        for fmt_name, path in guard(service.write_reports, review_id, out_dir, formats).items():
            out.print(f"{fmt_name} report: {path}", highlight=False, markup=False)

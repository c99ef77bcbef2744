"""``rca lens``: lens catalogs, guidance notes and Knowledge Base export.

Commands (mounted on the main app with ``app.add_typer(lens_app, name="lens")``):

``rca lens export-kb OUT_DIR [--lens ALIAS|PATH]``
    write every guidance note as ``<choice_id>.md`` plus ``<choice_id>.md.metadata.json`` for a
    Bedrock Knowledge Base S3 data source;
``rca lens validate [ALIAS|PATH]``
    load and check a lens (every custom-lens limit) and its guidance, print the counts;
``rca lens search QUERY [--pillar P] [--question Q] [-k N] [--kb-id ID]``
    retrieve guidance locally (BM25) or from a Bedrock Knowledge Base, with metadata filters.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from cli.common import AsJson, Profile, Region, err, guard, out

lens_app = typer.Typer(
    no_args_is_help=True,
    help="Lens catalogs: validate lenses, search guidance, export a Knowledge Base data source.",
)

LensRef = Annotated[
    str, typer.Option("--lens", help="Shipped lens alias or path of a custom-lens JSON file.")
]


@lens_app.command("export-kb")
def export_kb_command(
    out_dir: Annotated[Path, typer.Argument(help="Folder to write documents and sidecars into.")],
    lens: LensRef = "wellarchitected",
    as_json: AsJson = False,
) -> None:
    """Write guidance notes as Bedrock Knowledge Base documents with .metadata.json sidecars."""
    from reviews.kb_export import export_kb  # the review modules on use, as in search

    result = guard(export_kb, out_dir, lens)
    if as_json:
        _emit(result.model_dump(mode="json") | {"files": result.files})
        return
    err.print(
        f"wrote {len(result.documents)} documents and {len(result.documents)} metadata sidecars "
        f"({result.lens} {result.version}) to {out_dir}; upload the folder to the S3 prefix of "
        "the knowledge base's data source and sync it",
        highlight=False,
        markup=False,
    )


@lens_app.command("validate")
def validate_command(
    lens: Annotated[
        str, typer.Argument(help="Shipped lens alias or path of a custom-lens JSON file.")
    ] = "wellarchitected",
    as_json: AsJson = False,
) -> None:
    """Load a lens and its guidance notes; print pillar, question and choice counts."""
    from lenses.catalog import load_guidance, load_lens

    loaded = guard(load_lens, lens)
    notes = guard(load_guidance, loaded)
    questions = loaded.questions()
    summary = {
        "lens": loaded.alias,
        "name": loaded.name,
        "version": loaded.version,
        "pillars": len(loaded.pillars),
        "questions": len(questions),
        "best_practices": loaded.choice_count(),
        "none_choices": sum(1 for q in questions if q.none_choice is not None),
        "guidance_notes": len(notes),
    }
    if as_json:
        _emit(summary)
        return
    out.print(
        f"{summary['name']} ({summary['lens']} {summary['version']}): {summary['pillars']} "
        f"pillars, {summary['questions']} questions, {summary['best_practices']} best practices, "
        f"{summary['none_choices']} 'None of these' choices, {summary['guidance_notes']} notes",
        highlight=False,
        markup=False,
    )


@lens_app.command("search")
def search_command(
    query: Annotated[str, typer.Argument(help="What to look for, e.g. 'multi-AZ failover'.")],
    lens: LensRef = "wellarchitected",
    pillar: Annotated[
        list[str] | None, typer.Option("--pillar", help="Pillar id (repeatable).")
    ] = None,
    question: Annotated[
        list[str] | None, typer.Option("--question", help="Question id (repeatable).")
    ] = None,
    k: Annotated[int, typer.Option("-k", min=1, max=100, help="Number of passages.")] = 5,
    kb_id: Annotated[
        str | None, typer.Option("--kb-id", help="Bedrock Knowledge Base id (else local BM25).")
    ] = None,
    profile: Profile = None,
    region: Region = None,
    as_json: AsJson = False,
) -> None:
    """Retrieve guidance passages for a query, filtered by pillar and question."""
    from reviews.service import ReviewService, ReviewSettings

    settings = ReviewSettings(lens=lens, knowledge_base_id=kb_id, region=region, profile=profile)
    service = guard(ReviewService, settings=settings)
    passages = guard(
        service.search_guidance, query, pillars=pillar or None, question_ids=question or None, k=k
    )
    if as_json:
        _emit([p.model_dump(mode="json") for p in passages])
        return
    if not passages:
        err.print("no guidance matches the filter", highlight=False, markup=False)
    for p in passages:
        title = p.text.splitlines()[0].lstrip("# ") if p.text else ""
        meta = p.metadata
        out.print(
            f"{p.score:7.3f}  {meta.get('question_id', '?')}  {p.source}  {title}",
            highlight=False,
            markup=False,
        )


def _emit(data: Any) -> None:
    """Print exactly one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")

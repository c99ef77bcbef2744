"""Export lens guidance notes as an Amazon Bedrock Knowledge Base S3 data source.

For every best practice the export writes two files into one folder (upload the folder to the
S3 prefix of the knowledge base's data source, then sync the data source):

``<choice_id>.md``
    the guidance note as Markdown (:meth:`lenses.catalog.GuidanceNote.text`);
``<choice_id>.md.metadata.json``
    its metadata sidecar, ``{"metadataAttributes": {"lens": ..., "pillar": ..., "question_id":
    ..., "choice_id": ..., "risk": ...}}``.

The sidecar format is the one the Bedrock user guide documents for S3 data sources ("Set up a
data source for your knowledge base", metadata files): same folder and name as the document plus
``.metadata.json``, a ``metadataAttributes`` object of string, number or boolean values, at most
10 KB. These attributes are what :class:`reviews.retrieve.RetrievalFilter` filters on.

When choice ids repeat across questions (possible in custom lenses), files are named
``<question_id>.<choice_id>.md`` instead so no document overwrites another.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from lenses.catalog import GuidanceNote, LensError, load_guidance, load_lens
from tools.models import Model

SIDECAR_SUFFIX = ".metadata.json"
MAX_SIDECAR_BYTES = 10 * 1024
"""Bedrock KB limit on a metadata file (user guide: "doesn't exceed the quota of 10 KB")."""


class ExportResult(Model):
    """What an export wrote: the lens, the folder, and one document path per note."""

    lens: str
    version: str
    out_dir: str
    documents: list[str]

    @property
    def files(self) -> int:
        """Number of files written (each document plus its sidecar)."""
        return 2 * len(self.documents)


def sidecar(note: GuidanceNote) -> dict[str, dict[str, str]]:
    """The metadata sidecar content of a note: ``{"metadataAttributes": note.metadata()}``."""
    return {"metadataAttributes": note.metadata()}


def document_names(notes: Sequence[GuidanceNote]) -> list[str]:
    """File names of the notes' documents: ``<choice_id>.md``, or with the question id prefixed
    when choice ids are not unique across the lens."""
    counts = Counter(n.choice_id for n in notes)
    unique = all(c == 1 for c in counts.values())
    return [f"{n.choice_id}.md" if unique else f"{n.question_id}.{n.choice_id}.md" for n in notes]


def write_notes(notes: Sequence[GuidanceNote], out_dir: Path) -> list[Path]:
    """Write each note and its sidecar into ``out_dir`` (created if needed); return documents.

    Existing files of the same names are overwritten; other files are left alone.

    Raises:
        LensError: a sidecar would exceed the 10 KB metadata-file limit, or names collide.
    """
    names = document_names(notes)
    if len(set(names)) != len(names):
        dupes = sorted(n for n, c in Counter(names).items() if c > 1)
        raise LensError(f"cannot export: several notes map to the same document name {dupes[:5]}")
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for note, name in zip(notes, names, strict=True):
        meta = json.dumps(sidecar(note), indent=1, ensure_ascii=False) + "\n"
        if len(meta.encode("utf-8")) > MAX_SIDECAR_BYTES:
            raise LensError(f"metadata of {note.choice_id} exceeds the 10 KB sidecar limit")
        document = out_dir / name
        document.write_text(note.text(), encoding="utf-8")
        (out_dir / (name + SIDECAR_SUFFIX)).write_text(meta, encoding="utf-8")
        written.append(document)
    return written


def export_kb(out_dir: Path, lens: str | Path = "wellarchitected") -> ExportResult:
    """Export the guidance notes of a shipped or custom lens into ``out_dir``.

    Raises:
        LensError: the lens or its guidance cannot be loaded, or a limit is exceeded.
    """
    loaded = load_lens(lens)
    notes = load_guidance(loaded)
    documents = write_notes(notes, Path(out_dir))
    return ExportResult(
        lens=loaded.alias,
        version=loaded.version,
        out_dir=str(out_dir),
        documents=[str(p) for p in documents],
    )

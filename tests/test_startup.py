"""Start-up structure: the entry points do not import the heavy libraries they do not need.

Each entry module is imported in a fresh interpreter and its ``sys.modules`` inspected (no
timing: ``benchmarks/startup.py`` measures the CPU seconds). The libraries listed are the ones
made lazy (imported in the function that uses them): scipy.stats in the significance tests,
numpy in the metrics tool, networkx and buildzr where an architecture model is built, Drain3
where a bundle's log patterns are mined, boto3 where a client is built, pdfplumber where a PDF
is read, and the review modules in the review commands; bm25s's stopword list is read without
importing the bm25s package.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

INVESTIGATION_ONLY = ["scipy", "numpy", "bm25s", "networkx", "buildzr", "pdfplumber"]
ENTRY_POINTS = {
    # the `rca` script: --help and every command's options, the review modules included
    "cli.main": [*INVESTIGATION_ONLY, "boto3", "drain3", "reviews", "lenses"],
    "tools.handlers": INVESTIGATION_ONLY,  # one Lambda per tool; boto3 is its AWS world
    "reviews.handlers": ["scipy", "numpy", "bm25s", "networkx", "pdfplumber", "boto3"],
    "agent.runtime": [*INVESTIGATION_ONLY, "boto3", "drain3"],
    "slackbot.alarms": [*INVESTIGATION_ONLY, "boto3", "drain3"],
    "slackbot.app": [*INVESTIGATION_ONLY, "boto3", "drain3"],
}


def loaded_after_import(module: str, names: list[str]) -> list[str]:
    """The top-level packages of ``names`` present in ``sys.modules`` after ``import module``
    in a fresh interpreter run from the repository."""
    code = (
        f"import json, sys; import {module}; "
        f"print(json.dumps([n for n in {names!r} if n in sys.modules]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("module", sorted(ENTRY_POINTS))
def test_entry_point_does_not_import_what_it_does_not_use(module: str) -> None:
    assert loaded_after_import(module, ENTRY_POINTS[module]) == []


def test_the_check_sees_an_imported_library() -> None:
    # the subprocess check is live: an entry point that does use the library is reported
    assert loaded_after_import("reviews.retrieve", ["bm25s", "numpy"]) == ["bm25s", "numpy"]


def test_stopwords_are_bm25s_english_list_read_without_the_package() -> None:
    code = (
        "import json, sys; import tools.text as t; lazy = 'bm25s' not in sys.modules; "
        "from bm25s.stopwords import STOPWORDS_EN; "
        "print(json.dumps([lazy, sorted(t.STOPWORDS), sorted(STOPWORDS_EN)]))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    lazy, stopwords, english = json.loads(done.stdout)
    assert lazy
    extra = {"from", "has", "have", "our", "its", "all", "any"}
    assert set(stopwords) == (set(english) - {"no", "not"}) | extra
    assert {"the", "and", "of"} <= set(stopwords) and not {"no", "not"} & set(stopwords)

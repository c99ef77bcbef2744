"""Wall time of a deep review of the whole Framework: sequential versus the parallel runner.

Usage::

    python benchmarks/review_parallel.py [--scale 0.05] [--workers 8] [--rate 2.0] [--seed 7]
                                         [--document PDF]

A deep review sends one request per question (57 for the Well-Architected Framework). The
requests go to a **simulated Bedrock** assessor: each call takes a latency drawn uniformly from
1.5 to 4.0 seconds (a Converse call with a few thousand input tokens and a structured answer),
and calls that *start* when more than ``--rate`` calls have started in the past second are
throttled (``ThrottlingException`` after 0.1 s, as an on-demand quota would). A throttled call
is retried the way botocore's standard retry mode does it, below the runner (the only retry
layer): up to 8 attempts, full-jitter exponential backoff ``U(0, min(20, 2**n))`` seconds; a call
still throttled raises the one ``ThrottledError`` and the runner stops. The answers themselves
come from the heuristic assessor, so the whole pipeline (retrieval, checks, checkpoints in
SQLite) runs for real.

Runs: ``sequential`` (one request at a time, the runner with ``max_workers=1``), ``parallel``
(``--workers`` threads, the quota unknown) and ``parallel + pacing`` (the same, with request
starts spaced at the known ``--rate``). All
simulated seconds are multiplied by ``--scale`` so the benchmark runs fast; the printed
"projected" times divide the measured wall time by the scale, i.e. what the run would take
against real latencies (local CPU time is divided too, so projections slightly overstate).

The document defaults to the disaster-recovery design in ``../shared/data/design-docs`` when
present, else a generated two-page PDF.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import threading
import time
from collections import deque
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from lenses.catalog import Question, load_guidance, load_lens  # noqa: E402
from reviews.assess import Assessor, QuestionDraft, QuestionGuidance, Unit  # noqa: E402
from reviews.assessors.heuristic import HeuristicAssessor  # noqa: E402
from reviews.extract import PdfPlumberExtractor  # noqa: E402
from reviews.models import DocumentText, Mode, PageText, ReviewRecord  # noqa: E402
from reviews.retrieve import LocalRetriever  # noqa: E402
from reviews.runner import ReviewRunner  # noqa: E402
from reviews.store import SqliteReviewStore  # noqa: E402
from tools.aws.errors import ThrottledError  # noqa: E402

DEFAULT_DOC = (
    REPO.parent
    / "shared"
    / "data"
    / "design-docs"
    / ("aws-disaster-recovery-web-application-detailed-design.pdf")
)
LATENCY_S = (1.5, 4.0)
THROTTLE_LATENCY_S = 0.1
SDK_ATTEMPTS = 8  # tools.aws.session.MAX_ATTEMPTS
SDK_MAX_BACKOFF_S = 20.0  # botocore's standard mode cap


class SimulatedBedrock(Assessor):
    """Bedrock-like latency and throttling around the heuristic assessor (thread-safe)."""

    name = "simulated-bedrock"

    def __init__(self, scale: float, rate_per_s: float, seed: int) -> None:
        self.scale = scale
        self.rate = rate_per_s
        self.rng = random.Random(seed)
        self.inner = HeuristicAssessor()
        self.starts: deque[float] = deque()
        self.lock = threading.Lock()
        self.calls = 0
        self.throttled = 0

    def guidance_query(self, doc: DocumentText, question: Question) -> str:
        return self.inner.guidance_query(doc, question)

    def assess(
        self, doc: DocumentText, unit: Unit, guidance: dict[str, QuestionGuidance], mode: Mode
    ) -> list[QuestionDraft]:
        """One request with the SDK's retries (see the module docstring)."""
        for attempt in range(SDK_ATTEMPTS):
            try:
                return self._attempt(doc, unit, guidance, mode)
            except ThrottledError:
                if attempt == SDK_ATTEMPTS - 1:
                    raise
                with self.lock:
                    backoff = self.rng.uniform(0, min(SDK_MAX_BACKOFF_S, 2.0**attempt))
                time.sleep(backoff * self.scale)
        raise AssertionError("unreachable")

    def _attempt(
        self, doc: DocumentText, unit: Unit, guidance: dict[str, QuestionGuidance], mode: Mode
    ) -> list[QuestionDraft]:
        now = time.monotonic()
        window = 1.0 * self.scale
        with self.lock:
            self.calls += 1
            while self.starts and now - self.starts[0] > window:
                self.starts.popleft()
            throttle = len(self.starts) >= self.rate
            if not throttle:
                self.starts.append(now)
            latency = self.rng.uniform(*LATENCY_S)
            if throttle:
                self.throttled += 1
        if throttle:
            time.sleep(THROTTLE_LATENCY_S * self.scale)
            raise ThrottledError("ThrottlingException (simulated)")
        time.sleep(latency * self.scale)
        return self.inner.assess(doc, unit, guidance, mode)


def load_document(path: Path | None) -> DocumentText:
    """The benchmark document: the given PDF, the shared DR design, or a small stand-in."""
    candidate = path or (DEFAULT_DOC if DEFAULT_DOC.is_file() else None)
    if candidate is not None:
        return PdfPlumberExtractor().extract(candidate)
    text = (
        "The workload runs in two Regions with Route 53 health checks and automated failover.\n"
        "Backups of the Aurora database are automated with 7-day retention and tested quarterly."
    )
    return DocumentText(
        source="generated.pdf",
        sha256="0" * 64,
        extractor="pdfplumber",
        pages=[PageText(number=1, text=text)],
    )


def run(
    doc: DocumentText, workers: int, scale: float, rate: float, seed: int, paced: bool = False
) -> dict[str, float]:
    """One deep review of the whole lens; returns wall time, requests and throttles."""
    lens = load_lens()
    notes = load_guidance(lens)
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteReviewStore(Path(tmp) / "bench.db")
        store.create(
            ReviewRecord(id="bench-1", document=doc.source, document_name="bench.pdf", mode="deep")
        )
        assessor = SimulatedBedrock(scale, rate, seed)
        runner = ReviewRunner(
            assessor,
            lens,
            LocalRetriever(notes),
            notes,
            store,
            max_workers=workers,
            max_rps=rate / scale if paced else None,
        )
        started = time.perf_counter()
        assessment = runner.run("bench-1", doc, "deep")
        wall = time.perf_counter() - started
    return {
        "questions": float(len(assessment.questions)),
        "wall_s": wall,
        "projected_s": wall / scale,
        "calls": float(assessor.calls),
        "throttled": float(assessor.throttled),
    }


def main(argv: list[str] | None = None) -> int:
    """Run both configurations and print a table; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=0.05, help="simulated seconds x scale")
    parser.add_argument("--workers", type=int, default=8, help="parallel runner threads")
    parser.add_argument(
        "--rate", type=float, default=2.0, help="requests per second before throttling"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--document", type=Path, default=None)
    args = parser.parse_args(argv)
    if not 0 < args.scale <= 1:
        parser.error("--scale must be in (0, 1]")
    doc = load_document(args.document)
    print(
        f"deep review, simulated Bedrock: latency {LATENCY_S[0]}-{LATENCY_S[1]} s per call, "
        f"throttling above {args.rate:g} requests/s, time scale {args.scale:g}"
    )
    print(
        f"{'run':<26}{'questions':>10}{'calls':>7}{'throttled':>10}{'wall s':>9}{'projected s':>13}"
    )
    results = {}
    configs = (
        ("sequential", 1, False),
        (f"parallel, {args.workers} workers", args.workers, False),
        (f"parallel + {args.rate:g}/s pacing", args.workers, True),
    )
    for label, workers, paced in configs:
        r = run(doc, workers, args.scale, args.rate, args.seed, paced)
        results[label] = r
        print(
            f"{label:<26}{r['questions']:>10.0f}{r['calls']:>7.0f}{r['throttled']:>10.0f}"
            f"{r['wall_s']:>9.2f}{r['projected_s']:>13.1f}"
        )
    seq, par, paced_run = list(results.values())
    print(
        f"speed-up over sequential: {seq['wall_s'] / par['wall_s']:.1f}x parallel, "
        f"{seq['wall_s'] / paced_run['wall_s']:.1f}x parallel + pacing "
        f"(lower bound at {args.rate:g}/s: {par['questions'] / args.rate:.1f} s projected)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

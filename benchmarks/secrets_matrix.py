"""The secrets matrix: 16 secret kinds planted in every input channel, grepped in every output.

Channels (where a secret enters): a log line, CloudTrail request parameters, the CloudTrail
actor, the CloudTrail user agent, an alarm reason, a metric dimension, a workspace element
description, and a design document (PDF). Each channel gets its own copy of every secret (the
value carries a two-character channel code), so a leak is attributed to the channel it came from.

Outputs (where a secret must never appear): ``rca ask`` stdout, ``rca ask --json``, the Markdown
incident report (``rca report``), the SQLite session store, ``rca review`` stdout and ``--json``,
the review reports (md, html, json, csv), the WA Tool plan (its notes), ``rca review-chat``
answers and the SQLite review store (database, WAL and document files).

A cell is a leak when a distinctive part of the secret value (its *needle*, not the key name
that precedes it) appears in that output. Each channel must also be seen to reach at least one
output (a ``[REDACTED:`` marker or the channel's canary text), so the test cannot pass because a
channel was silently ignored.

Run: ``python benchmarks/secrets_matrix.py`` prints the matrix (kinds x channels, the outputs
that leaked in each cell) and exits 1 on any leak.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

# (kind, make(code) -> (needle, text)); ``code`` is two characters [A-Z0-9] naming the channel.
Kind = tuple[str, Callable[[str], tuple[str, str]]]
KINDS: list[Kind] = [
    (
        "aws-access-key-id",
        lambda c: (f"AKIAIOSFODNN7EXAMP{c}", f"access key AKIAIOSFODNN7EXAMP{c}"),
    ),
    (
        "aws-secret-key",
        lambda c: (
            f"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEK{c}",
            f'"secretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEK{c}"',
        ),
    ),
    (
        "jwt",
        lambda c: (
            f"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV{c}",
            "jwt=eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
            f"SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV{c}",
        ),
    ),
    (
        "database-url",
        lambda c: (
            f"pa55word{c}",
            f"DATABASE_URL=postgresql://admin:pa55word{c}@db.example.com/app",
        ),
    ),
    (
        "connection-string",
        lambda c: (f"Zx9kLm2q{c}", f"Server=tcp:db.example.com;User Id=sa;Password=Zx9kLm2q{c};"),
    ),
    ("db-password", lambda c: (f"hunter22{c}", f"DB_PASSWORD=hunter22{c} starting")),
    (
        "master-user-password",
        lambda c: (f"Mast3rPw{c}", f'"masterUserPassword": "Mast3rPw{c}", "engine": "aurora"'),
    ),
    (
        "private-key",
        lambda c: (
            f"MIIEowIBAAKCAQEA{c}",
            f"-----BEGIN RSA PRIVATE KEY----- MIIEowIBAAKCAQEA{c} -----END RSA PRIVATE KEY-----",
        ),
    ),
    (
        "slack-token",
        lambda c: (
            f"0987654321-AbCdEfGhIj{c}",
            f"bot token xoxb-1234567890-0987654321-AbCdEfGhIj{c}",
        ),
    ),
    (
        "slack-webhook",
        lambda c: (
            f"B00000000/XXXXXXXXXXXXXXXXXXXX{c}",
            f"posting to https://hooks.slack.com/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXX{c}",
        ),
    ),
    (
        "github-token",
        lambda c: (
            f"16C7e42F292c6912E7710c838347Ae178B{c}",
            f"cloned with ghp_16C7e42F292c6912E7710c838347Ae178B{c}",
        ),
    ),
    (
        "github-pat",
        lambda c: (
            f"11ABCDEFG0abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH{c}",
            f"GH github_pat_11ABCDEFG0abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGH{c}",
        ),
    ),
    (
        "basic-auth",
        lambda c: (f"dXNlcjpzM2Ny{c}ZXQ", f"Authorization: Basic dXNlcjpzM2Ny{c}ZXQ="),
    ),
    ("x-api-key", lambda c: (f"a1b2c3d4e5f6g7h8{c}", f"x-api-key: a1b2c3d4e5f6g7h8{c}")),
    (
        "stripe-live-key",
        lambda c: (
            f"4eC39HqLyjWDarjtT1zdp7dc{c}",
            f"charge with sk_live_4eC39HqLyjWDarjtT1zdp7dc{c}",
        ),
    ),
    ("client-secret", lambda c: (f"s3cr3tvalue{c}", f'clientSecret: "s3cr3tvalue{c}"')),
]

CHANNELS: dict[str, str] = {
    "log line": "L1",
    "cloudtrail parameters": "P2",
    "cloudtrail actor": "A3",
    "cloudtrail user agent": "U4",
    "alarm reason": "R5",
    "metric dimension": "M6",
    "workspace description": "W7",
    "design document": "D8",
}
BUNDLE_CHANNELS = [c for c in CHANNELS if c != "design document"]
CANARY = "CANARY{code}"  # plain text next to each planted secret: proves the channel is read


def planted(channel: str) -> list[tuple[str, str, str]]:
    """``(kind, needle, text)`` for every kind in ``channel`` (text carries the canary)."""
    code = CHANNELS[channel]
    rows = []
    for kind, make in KINDS:
        needle, text = make(code)
        rows.append((kind, needle, f"{CANARY.format(code=code)} {text}"))
    return rows


@dataclass
class MatrixResult:
    """``leaks[(kind, channel)]`` = outputs where that secret leaked; ``reached[channel]`` =
    outputs where the channel's canary or a redaction marker appeared."""

    outputs: list[str]
    leaks: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    reached: dict[str, list[str]] = field(default_factory=dict)

    @property
    def leak_count(self) -> int:
        return sum(len(v) for v in self.leaks.values())


def write_planted_bundle(root: Path) -> Path:
    """The chain test bundle with every channel's secrets planted where an investigation reads."""
    from tests.builders import ONSET, WINDOW, chain_workspace, trail, write_chain_bundle
    from tools.bundle import AlarmStateChange, MetricPoint

    write_chain_bundle(root)
    # logs: an error line per kind, 4x each, in the window of the Orders API
    logs = root / "logs" / "%2Faws%2Flambda%2Forders.jsonl"
    with logs.open("a", encoding="utf-8") as handle:
        for i, (_kind, _needle, text) in enumerate(planted("log line")):
            for rep in range(4):
                when = ONSET + timedelta(minutes=1 + rep, seconds=i)
                handle.write(
                    json.dumps(
                        {
                            "timestamp": when.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                            "message": f"ERROR upstream auth failed: {text}",
                        }
                    )
                    + "\n"
                )
    # cloudtrail: one write event per kind, carrying that kind in its parameters, its actor and
    # its user agent (the three CloudTrail channels)
    with (root / "cloudtrail.jsonl").open("a", encoding="utf-8") as handle:
        rows = zip(
            planted("cloudtrail parameters"),
            planted("cloudtrail actor"),
            planted("cloudtrail user agent"),
            strict=True,
        )
        for n, (params, actor, agent) in enumerate(rows, start=1):
            event = trail(
                "UpdateFunctionConfiguration20150331v2",
                ONSET - timedelta(minutes=2, seconds=n),
                {"functionName": "orders", "environment": {"variables": {"NOTE": params[2]}}},
                eid=f"{n:03d}",
            )
            event["eventID"] = f"00000000-0000-0000-0000-000000000{n:03d}"
            event["userIdentity"] = {"type": "IAMUser", "userName": actor[2]}
            event["userAgent"] = agent[2]
            handle.write(json.dumps(event) + "\n")
    # alarm reasons
    with (root / "alarms.jsonl").open("a", encoding="utf-8") as handle:
        for i, (_kind, _needle, text) in enumerate(planted("alarm reason")):
            change = AlarmStateChange(
                alarm_name=f"orders-errors-{i}",
                timestamp=ONSET + timedelta(minutes=1, seconds=i),
                old_state="OK",
                new_state="ALARM",
                reason=f"Threshold crossed: {text}",
                namespace="AWS/Lambda",
                metric="Errors",
                dimensions={"FunctionName": "orders"},
            )
            handle.write(change.model_dump_json() + "\n")
    # metric dimensions: an extra dimension on the Orders API's error metric
    with (root / "metrics.csv").open("a", encoding="utf-8", newline="") as handle:
        import csv

        writer = csv.writer(handle, lineterminator="\n")
        for i, (_kind, _needle, text) in enumerate(planted("metric dimension")):
            minute = WINDOW.start - timedelta(hours=1)
            while minute < WINDOW.end:
                broken = minute >= ONSET
                point = MetricPoint(
                    timestamp=minute,
                    namespace="AWS/Lambda",
                    metric="Errors",
                    dimensions={"FunctionName": "orders", f"Tag{i}": text},
                    value=30.0 if broken else 0.0,
                    unit="Count",
                )
                writer.writerow(
                    [
                        point.timestamp.strftime("%Y-%m-%dT%H:%M:%SZ"),
                        point.namespace,
                        point.metric,
                        json.dumps(point.dimensions),
                        point.value,
                        point.unit,
                    ]
                )
                minute += timedelta(minutes=1)
    # workspace descriptions
    workspace = chain_workspace()
    texts = [t for _k, _n, t in planted("workspace description")]
    for container in workspace["model"]["softwareSystems"][0]["containers"]:
        container["description"] = "Orders service. " + " ".join(texts)
        for rel in container["relationships"]:
            rel["description"] = "Calls. " + " ".join(texts)
    (root / "workspace.json").write_text(json.dumps(workspace, indent=2), encoding="utf-8")
    return root


def write_planted_pdf(path: Path) -> Path:
    """A design document whose pages state real design facts next to every planted secret."""
    from tests.reviews.pdfs import text_pdf

    facts = [
        "The workload runs in two AWS Regions with Amazon Route 53 failover routing.",
        "Amazon CloudWatch alarms page the on-call engineer; runbooks are stored in the wiki.",
        "Data is encrypted at rest with AWS KMS keys and in transit with TLS 1.2.",
        "IAM roles grant least privilege; credentials are rotated every 90 days.",
        "Backups are taken hourly with AWS Backup and restored in quarterly game days.",
        "Auto Scaling groups scale on CPU utilization; load is tested before each release.",
    ]
    pages = []
    rows = planted("design document")
    for start in range(0, len(rows), 4):
        lines = []
        for fact, (_kind, _needle, text) in zip(facts * 3, rows[start : start + 4], strict=False):
            lines += [fact, f"Configuration example for the database and alerts: {text}"]
        pages.append(lines)
    path.write_bytes(text_pdf(pages))
    return path


def _grep(outputs: dict[str, str], result: MatrixResult, channels: list[str]) -> None:
    for channel in channels:
        code = CHANNELS[channel]
        for name, text in outputs.items():
            if CANARY.format(code=code) in text:
                result.reached.setdefault(channel, []).append(name)
        for kind, needle, _text in planted(channel):
            hits = [name for name, text in outputs.items() if needle in text]
            result.leaks[(kind, channel)] = hits


def _decoded(value: object) -> str:
    """A stored value as text: gzip/zlib blobs decompressed, bytes decoded leniently."""
    import gzip
    import zlib

    if isinstance(value, bytes | memoryview):
        data = bytes(value)
        for unpack in (gzip.decompress, zlib.decompress):
            try:
                data = unpack(data)
                break
            except (OSError, EOFError, zlib.error):
                continue
        return data.decode("utf-8", errors="replace")
    return str(value)


def _store_text(home: Path) -> str:
    """Everything under RCA_HOME as text: every row of every SQLite table (compressed blobs
    unpacked), and every other file (WAL files, stored documents) decoded."""
    import sqlite3

    chunks = []
    for path in sorted(home.rglob("*")):
        if not path.is_file():
            continue
        if path.suffix == ".db":
            db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
            try:
                tables = [
                    r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")
                ]
                for table in tables:
                    for row in db.execute(f'SELECT * FROM "{table}"'):
                        chunks.extend(_decoded(v) for v in row)
            finally:
                db.close()
        else:
            chunks.append(_decoded(path.read_bytes()))
    return "\n".join(chunks)


def run(workdir: Path) -> MatrixResult:
    """Plant, run every command, grep every output; return the matrix."""
    import os

    from typer.testing import CliRunner

    from cli.main import app

    home = workdir / "home"
    os.environ["RCA_HOME"] = str(home)
    runner = CliRunner()
    bundle = write_planted_bundle(workdir / "bundle")
    question = "checkout fails in the web app"
    plain = runner.invoke(app, ["ask", question, "--bundle", str(bundle), "--quiet"])
    as_json = runner.invoke(app, ["ask", question, "--bundle", str(bundle), "--json", "--quiet"])
    if as_json.exit_code != 0:
        raise RuntimeError(f"rca ask --json failed: {as_json.output}")
    session_id = json.loads(as_json.stdout)["id"]
    follow = runner.invoke(
        app,
        ["ask", "is the database involved?", "--session", session_id, "--json", "--quiet"],
    )
    report_path = workdir / "incident.md"
    report = runner.invoke(app, ["report", session_id, "--out", str(report_path)])
    report_text = report_path.read_text(encoding="utf-8") if report_path.exists() else ""
    outputs_rca = {
        "ask stdout": plain.stdout + plain.stderr,
        "ask --json": as_json.stdout + follow.stdout,
        "report md": report_text + report.stdout,
        "session store": _store_text(home),
    }

    pdf = write_planted_pdf(workdir / "design.pdf")
    out_dir = workdir / "reviews"
    review = runner.invoke(
        app, ["review", str(pdf), "--out", str(out_dir), "-f", "md,html,json,csv", "--quiet"]
    )
    review_json = runner.invoke(
        app,
        ["review", str(pdf), "--out", str(workdir / "reviews-json"), "--json", "--quiet"],
    )
    if review_json.exit_code != 0:
        raise RuntimeError(f"rca review --json failed: {review_json.output}")
    review_id = json.loads(review_json.stdout)["review"]["id"]
    chat = runner.invoke(
        app, ["review-chat", review_id, "How are database credentials handled?", "--json"]
    )

    def read(suffix: str) -> str:
        return "\n".join(p.read_text(encoding="utf-8") for p in sorted(out_dir.glob(f"*{suffix}")))

    outputs_review = {
        "review stdout": review.stdout + review.stderr,
        "review --json": review_json.stdout,
        "review md": read(".md"),
        "review html": read(".html"),
        "review json": "\n".join(
            p.read_text(encoding="utf-8")
            for p in sorted(out_dir.glob("*.json"))
            if not p.name.endswith(".wa-plan.json")
        ),
        "review csv": read(".csv"),
        "WA Tool plan notes": read(".wa-plan.json"),
        "review chat": chat.stdout,
        "review store": _store_text(home),
    }
    # the session store is re-read after the review ran: one home holds both stores
    outputs_rca["session store"] = _store_text(home)
    result = MatrixResult(outputs=[*outputs_rca, *outputs_review])
    _grep(outputs_rca, result, BUNDLE_CHANNELS)
    _grep(outputs_review, result, ["design document"])
    return result


def render(result: MatrixResult) -> str:
    """The matrix as text: one row per kind, one column per channel; a cell is ``ok`` or the
    outputs that leaked; then the outputs each channel was seen to reach."""
    channels = list(CHANNELS)
    width = 9
    head = "kind".ljust(22) + "".join(CHANNELS[c].center(width) for c in channels)
    lines = [
        f"Secrets matrix: {len(KINDS)} kinds x {len(channels)} channels x "
        f"{len(result.outputs)} outputs; leaks: {result.leak_count}",
        "channels: " + ", ".join(f"{CHANNELS[c]}={c}" for c in channels),
        "outputs: " + ", ".join(result.outputs),
        head,
    ]
    for kind, _make in KINDS:
        cells = []
        for channel in channels:
            hits = result.leaks.get((kind, channel), [])
            cells.append(("ok" if not hits else f"LEAK:{len(hits)}").center(width))
        lines.append(kind.ljust(22) + "".join(cells))
    for (kind, channel), hits in sorted(result.leaks.items()):
        if hits:
            lines.append(f"  leak: {kind} via {channel} -> {', '.join(hits)}")
    for channel in channels:
        lines.append(f"  {channel} reached: {', '.join(result.reached.get(channel, [])) or '-'}")
    return "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="rca-secrets-") as tmp:
        result = run(Path(tmp))
    print(render(result))
    return 1 if result.leak_count else 0


if __name__ == "__main__":
    raise SystemExit(main())

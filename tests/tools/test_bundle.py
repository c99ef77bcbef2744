"""Loading and validating incident bundles: clear errors for malformed input."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from tests.builders import WINDOW, write_chain_bundle
from tools.bundle import Bundle, log_file_name, log_group_of
from tools.errors import BundleError


@pytest.fixture(scope="module")
def chain(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_chain_bundle(tmp_path_factory.mktemp("b") / "chain")


def copy(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_loads_and_validates(chain: Path) -> None:
    bundle = Bundle(chain)
    bundle.validate()
    assert bundle.incident.window == WINDOW
    assert bundle.incident.baseline_window == WINDOW.previous()
    assert set(bundle.log_files) == {"/aws/lambda/web", "/aws/lambda/orders"}
    assert len(bundle.cloudtrail_records) == 3
    records = bundle.log_records("/aws/lambda/web")
    assert records == sorted(records, key=lambda r: r.timestamp)


def test_log_file_names_round_trip() -> None:
    for group in ("/aws/lambda/x", "plain", "/ecs/a b%c"):
        assert log_group_of(Path(log_file_name(group))) == group
        assert log_group_of(Path(log_file_name(group) + ".gz")) == group


def test_gzip_files_are_read(chain: Path, tmp_path: Path) -> None:
    b = copy(chain, tmp_path / "gz")
    for path in [*(b / "logs").iterdir(), b / "metrics.csv"]:
        with gzip.open(str(path) + ".gz", "wb") as out:
            out.write(path.read_bytes())
        path.unlink()
    bundle = Bundle(b)
    bundle.validate()
    assert len(bundle.log_files) == 2 and bundle.metric_points


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda b: (b / "incident.yaml").unlink(), "no incident.yaml"),
        (lambda b: (b / "workspace.json").unlink(), "no workspace.json"),
        (lambda b: (b / "incident.yaml").write_text("a: [1, 2"), "not valid YAML"),
        (lambda b: (b / "incident.yaml").write_text("- 1\n"), "expected a mapping"),
        (
            lambda b: (b / "incident.yaml").write_text(
                (b / "incident.yaml").read_text().replace("bundle_version: 1", "bundle_version: 9")
            ),
            "bundle_version 9 is not supported",
        ),
        (
            lambda b: (b / "incident.yaml").write_text(
                (b / "incident.yaml").read_text().replace("10:30:00", "09:00:00")
            ),
            "is not after its start",
        ),
        (
            lambda b: (b / "incident.yaml").write_text(
                (b / "incident.yaml").read_text() + "surprise: 1\n"
            ),
            "surprise: Extra inputs are not permitted",
        ),
    ],
)
def test_malformed_incident(chain: Path, tmp_path: Path, mutate, message: str) -> None:  # type: ignore[no-untyped-def]
    b = copy(chain, tmp_path / "x")
    mutate(b)
    with pytest.raises(BundleError, match=message):
        Bundle(b)


def test_malformed_data_files_name_file_and_line(chain: Path, tmp_path: Path) -> None:
    b = copy(chain, tmp_path / "x")
    log = b / "logs" / log_file_name("/aws/lambda/web")
    log.write_text(log.read_text() + "{broken\n")
    with pytest.raises(BundleError, match=r"%2Fweb.jsonl: line \d+ is not JSON"):
        Bundle(b).validate()
    log.write_text('{"timestamp": "yesterday", "message": "x"}\n')
    with pytest.raises(BundleError, match="line 1: timestamp"):
        Bundle(b).validate()
    log.write_text("")
    (b / "metrics.csv").write_text("timestamp,metric\n2026-01-01T00:00:00Z,x\n")
    with pytest.raises(BundleError, match="missing columns"):
        Bundle(b).validate()
    (b / "metrics.csv").write_text(
        "timestamp,namespace,metric,dimensions,value,unit\n2026-01-01T00:00:00Z,N,M,{},abc,Count\n"
    )
    with pytest.raises(BundleError, match=r"metrics\.csv: line 2"):
        Bundle(b).validate()


def test_not_a_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="not a directory"):
        Bundle(tmp_path / "nope")


def test_spans_table_round_trips_and_v1_has_none(tmp_path):
    import pandas as pd

    from tools.bundle import SPAN_COLUMNS, Bundle, BundleWriter, IncidentSpec

    spec = IncidentSpec.model_validate(
        {
            "bundle_version": 2,
            "id": "spans",
            "description": "slow checkout",
            "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:05:00Z"},
        }
    )
    rows = [
        ["t1", "a", "", "front", "front-1", "GET /", "server", 2_000, 900, ""],
        ["t1", "b", "a", "cart", "cart-1", "GetCart", "server", 1_000, 500, "500"],
    ]
    writer = BundleWriter(tmp_path / "b")
    writer.add_spans(pd.DataFrame(rows, columns=list(SPAN_COLUMNS)))
    bundle = Bundle(writer.write(spec, {"model": {}}))
    spans = bundle.spans
    assert list(spans["span_id"]) == ["b", "a"]  # sorted by start time
    assert int(spans["duration_ns"].iloc[0]) == 500
    assert spans["parent_id"].iloc[1] == ""
    assert spans["status_code"].iloc[0] == "500"

    v1 = BundleWriter(tmp_path / "v1")
    spec1 = spec.model_copy(update={"bundle_version": 1})
    assert Bundle(v1.write(spec1, {"model": {}})).spans.empty


def test_spans_missing_column_is_a_clear_error(tmp_path):
    import pandas as pd
    import pytest

    from tools.bundle import BundleWriter
    from tools.errors import BundleError

    with pytest.raises(BundleError, match="missing column"):
        BundleWriter(tmp_path).add_spans(pd.DataFrame({"trace_id": ["t"]}))


def _validated(lines: list[str]) -> list:  # type: ignore[type-arg]
    """What the row-by-row reader made of ``lines``: each validated, stable-sorted by time."""
    import json

    from tools.bundle import LogRecord

    records = [LogRecord.model_validate(json.loads(line)) for line in lines]
    return sorted(records, key=lambda r: r.timestamp)


def test_log_table_keeps_every_record_as_validation_reads_it(chain: Path, tmp_path: Path) -> None:
    b = copy(chain, tmp_path / "odd")
    lines = [
        '{"timestamp": "2026-03-02T10:05:00.250Z", "message": "b", "stream": "s1"}',
        '{"timestamp": "2026-03-02T12:05:00+02:00", "message": "a"}',  # offset: same instant
        '{"timestamp": 1772445900000, "message": "epoch ms", "trace_id": "t", "span_id": "s"}',
        '{"timestamp": "2026-03-02T10:04:00", "message": "naive is UTC", "event_key": null}',
        '{"timestamp": " 2026-03-02T10:03:00Z ", "message": "padded", "event_key": "L#1"}',
        '{"timestamp": "2026-03-02T10:05:00Z", "message": "\\u00e9t\\u00e9 \\u0000 nul"}',
    ]
    path = b / "logs" / log_file_name("/aws/lambda/web")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    bundle = Bundle(b)
    assert bundle.log_records("/aws/lambda/web") == _validated(lines)
    table = bundle.log_table("/aws/lambda/web")
    assert table.messages == [r.message for r in _validated(lines)]
    assert table.between(WINDOW).sum() == sum(
        WINDOW.contains(r.timestamp) for r in _validated(lines)
    )


@pytest.mark.parametrize(
    ("line", "error"),
    [
        ('{"timestamp": "2026-03-02T10:05:00Z", "message": 5}', "message: Input should be"),
        ('{"timestamp": "2026-03-02T10:05:00Z", "message": "x", "level": "E"}', "level: Extra"),
        ('{"timestamp": "2026-03-02T10:05:00Z"}', "message: Field required"),
        ('{"timestamp": "yesterday", "message": "x"}', "not an ISO 8601 time"),
        ('{"timestamp": 1772445600, "message": "x"}', "looks like seconds"),
        ('{"timestamp": "2026-03-02T10:05:00Z", "message": "x", "span_id": 7}', "span_id"),
    ],
)
def test_bad_log_record_gets_its_validation_error(
    chain: Path, tmp_path: Path, line: str, error: str
) -> None:
    b = copy(chain, tmp_path / "bad")
    path = b / "logs" / log_file_name("/aws/lambda/web")
    path.write_text('{"timestamp": "2026-03-02T10:05:00Z", "message": "ok"}\n' + line + "\n")
    with pytest.raises(BundleError, match=rf"{path.name}: line 2: .*{error}"):
        Bundle(b).validate()


def test_log_group_is_parsed_once_by_concurrent_tools(chain: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from concurrent.futures import ThreadPoolExecutor

    bundle = Bundle(chain)
    reads: list[str] = []
    original = Bundle._read_log_table

    def counted(self, group):  # type: ignore[no-untyped-def]
        reads.append(group)
        return original(self, group)

    monkeypatch.setattr(Bundle, "_read_log_table", counted)
    with ThreadPoolExecutor(max_workers=4) as pool:
        tables = list(pool.map(bundle.log_table, ["/aws/lambda/web"] * 8))
    assert reads == ["/aws/lambda/web"] and all(t is tables[0] for t in tables)


def test_log_and_metric_frames_write_the_files_records_do(tmp_path: Path) -> None:
    # the column path of importers is a speed-up only: byte-identical files, same order
    from datetime import UTC, datetime, timedelta

    import pandas as pd

    from tools.bundle import (
        BundleWriter,
        IncidentSpec,
        LogRecord,
        MetricPoint,
        metric_points_frame,
    )

    spec = IncidentSpec.model_validate(
        {
            "id": "frames",
            "description": "slow checkout",
            "window": {"start": "2026-01-01T00:00:00Z", "end": "2026-01-01T00:05:00Z"},
        }
    )
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    stamps = [t0 + timedelta(microseconds=us) for us in (5_000_123, 1_999, 5_000_123, -1)]
    stamps.append(datetime(1754, 8, 30, 22, 43, 41, 128_654, tzinfo=UTC))  # a corrupt clock
    logs = [
        ("/g/a", LogRecord(timestamp=t, message=m, stream="pod-1", trace_id=tid, event_key=k))
        for t, m, tid, k in zip(
            stamps,
            ['ERROR café "quoted" \\ \u2028', "INFO ok", "WARN tie", "DEBUG early", "INFO old"],
            ["t1", None, "t2", None, "t3"],
            ["X#1", None, None, "Y#2", None],
            strict=True,
        )
    ] + [("/g/b", LogRecord(timestamp=t0, message="only", stream="pod-2", span_id="s1"))]
    dims_a, dims_b = {"Service": "a", "Pod": "a-1"}, {"Service": "b"}
    points = [
        MetricPoint(timestamp=t, namespace=ns, metric=m, dimensions=d, value=v, unit=u)
        for t, ns, m, d, v, u in [
            (t0 + timedelta(seconds=60), "N/Pod", "Cpu(%)", dims_a, 12.3456789, "Percent"),
            (t0, "N/Pod", "Cpu(%)", dims_a, 1e-9, "Percent"),
            (t0, "N/Pod", "Cpu(%)", dims_b, 2.0, "Percent"),
            (t0, "N/Pod", "Cpu(%)", dims_a, 3.5, "Percent"),  # same key: order of addition
            (t0, "N/Front", "Latency", {"Service": 'a, "b"'}, 1e21, "None"),
        ]
    ]
    by_records = BundleWriter(tmp_path / "records", gzip_files=True)
    for group, record in logs:
        by_records.add_log(group, record)
    by_records.add_metrics(points)
    by_records.write(spec, {"model": {}})

    by_frames = BundleWriter(tmp_path / "frames", gzip_files=True, compresslevel=1)
    by_frames.add_log_frame(
        pd.DataFrame(
            {
                "group": [g for g, _ in logs],
                "timestamp": pd.to_datetime([r.timestamp for _, r in logs], utc=True),
                "message": [r.message for _, r in logs],
                "stream": [r.stream for _, r in logs],
                "trace_id": [r.trace_id for _, r in logs],
                "span_id": [r.span_id for _, r in logs],
                "event_key": [r.event_key for _, r in logs],
            }
        )
    )
    by_frames.add_metric_frame(metric_points_frame(points))
    by_frames.write(spec, {"model": {}})
    files = sorted(p.relative_to(tmp_path / "records") for p in (tmp_path / "records").rglob("*"))
    assert files == sorted(
        p.relative_to(tmp_path / "frames") for p in (tmp_path / "frames").rglob("*")
    )
    for name in files:
        a, b = tmp_path / "records" / name, tmp_path / "frames" / name
        if a.is_file():
            read = gzip.decompress if name.suffix == ".gz" else (lambda data: data)
            assert read(a.read_bytes()) == read(b.read_bytes()), name
    assert Bundle(tmp_path / "frames").log_records("/g/a")[0].message == "INFO old"


def test_log_frame_refuses_an_oversized_message(tmp_path: Path) -> None:
    import pandas as pd

    from tools.bundle import MAX_LOG_LINE_BYTES, BundleWriter

    frame = pd.DataFrame(
        {
            "group": ["/g"],
            "timestamp": pd.to_datetime(["2026-01-01T00:00:00Z"], utc=True),
            "message": ["x" * (MAX_LOG_LINE_BYTES + 1)],
            "stream": [""],
        }
    )
    with pytest.raises(BundleError, match="longer than"):
        BundleWriter(tmp_path / "b").add_log_frame(frame)

"""Speed-ups in the trace detectors compute exactly what the code they replaced computed."""

from __future__ import annotations

import pandas as pd
import pytest

from tools.trace_analysis import _served


def _served_by_multiindex(joined: pd.DataFrame) -> pd.Series:
    """The definition: a span is served when some span names it (trace id, span id) as parent."""
    parents = pd.MultiIndex.from_frame(joined[["trace_id", "parent_id"]].astype(str))
    keys = pd.MultiIndex.from_frame(joined[["trace_id", "span_id"]].astype(str))
    return pd.Series(keys.isin(parents), index=joined.index)


@pytest.mark.parametrize(
    "rows",
    [
        [("t1", "", "a"), ("t1", "a", "b"), ("t2", "a", "c"), ("t2", "c", "a")],  # ids per trace
        [("t1", "", "a"), ("t1", "a", "b"), ("t1", "b", "c")],
        [("t", None, "a"), ("t", "a", None), (None, None, "b")],  # missing ids
        [],
    ],
)
def test_served_equals_its_definition(rows: list[tuple[str | None, ...]]) -> None:
    frame = pd.DataFrame(
        rows, columns=["trace_id", "parent_id", "span_id"], index=range(3, 3 + len(rows))
    )
    assert _served(frame).equals(_served_by_multiindex(frame))

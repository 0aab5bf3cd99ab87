"""Report tables and scaling arithmetic on hand-made rows."""

from __future__ import annotations

import math

import pytest

from xneuro.bench.harness import Result
from xneuro.bench.report import (
    markdown_table,
    scaling,
    scaling_table,
    speedups,
    text_table,
)


def _row(who: str, seconds: float, *, case: str = "c", size: str = "1k", workers: int = 0,
         device: str = "cpu", source: str = "measured") -> Result:
    return Result(benchmark="b", case=case, size=size, who=who, seconds=seconds,
                  workers=workers, device=device, source=source)


def test_speedups_are_peer_seconds_over_xneuro_seconds():
    rows = [_row("xneuro", 2.0), _row("numpy", 5.0), _row("braincoder", 30.0, source="recorded"),
            _row("numpy", 1.0, device="cuda"),      # no xneuro row on cuda: no ratio
            _row("numpy", float("nan")),            # failed peer: no ratio
            _row("numpy", 3.0, case="other")]       # no xneuro row for this case
    assert speedups(rows) == {1: 2.5, 2: 15.0}


def test_tables_show_the_ratio_recorded_and_failed():
    rows = [_row("xneuro", 2.0), _row("numpy", 5.0), _row("braincoder", 30.0, source="recorded"),
            _row("scipy", float("nan"))]
    md = markdown_table(rows).splitlines()
    assert md[0].startswith("| benchmark | case | size | who | seconds")
    assert "vs xneuro" in md[0]
    assert md[3].split(" | ")[3] == "numpy" and "2.50x" in md[3]
    assert "braincoder (recorded)" in md[4] and "15.00x" in md[4]
    assert "failed" in md[5]
    text = text_table(rows)
    assert "2.50x" in text and "15.00x" in text


def test_scaling_efficiency_against_one_worker():
    rows = [_row("xneuro", 8.0, workers=1), _row("xneuro", 5.0, workers=2),
            _row("xneuro", 4.0, workers=4), _row("xneuro", 9.0, workers=0)]
    entries = scaling(rows)
    assert [e["workers"] for e in entries] == [1, 2, 4]   # workers 0 (in-process) left out
    assert entries[0]["efficiency"] == pytest.approx(1.0)
    assert entries[1]["efficiency"] == pytest.approx(8.0 / (2 * 5.0))   # t1 / (N tN) = 0.8
    assert entries[2]["efficiency"] == pytest.approx(8.0 / (4 * 4.0))   # 0.5
    assert entries[1]["speedup"] == pytest.approx(1.6)
    assert entries[2]["speedup"] == pytest.approx(2.0)


def test_scaling_without_one_worker_uses_the_fewest_and_skips_single_counts():
    rows = [_row("xneuro", 5.0, workers=2), _row("xneuro", 4.0, workers=4),
            _row("xneuro", 1.0, workers=2, case="alone"),          # one count: no entry
            _row("xneuro", float("nan"), workers=8)]
    entries = scaling(rows)
    assert [(e["case"], e["workers"]) for e in entries] == [("c", 2), ("c", 4), ("c", 8)]
    assert entries[1]["efficiency"] == pytest.approx(2 * 5.0 / (4 * 4.0))  # 0.625
    assert entries[2]["efficiency"] is None and entries[2]["speedup"] is None
    assert math.isnan(entries[2]["seconds"])


def test_scaling_table_markdown():
    rows = [_row("xneuro", 8.0, workers=1), _row("xneuro", 5.0, workers=2)]
    table = scaling_table(rows).splitlines()
    assert table[0] == ("| benchmark | case | size | who | workers | seconds | speedup | "
                        "efficiency |")
    assert table[3] == "| b | c | 1k | xneuro | 2 | 5 | 1.60x | 80% |"
    assert scaling_table([_row("xneuro", 1.0)]) == ""

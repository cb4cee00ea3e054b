"""benchmarks/compare_table.py: the table and chart of a compare_builds.sh run, on JSON files
made here in the layout that script writes (BENCH_BUILD_ROUND.json)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import compare_table  # noqa: E402


def _write(folder: Path) -> None:
    # dispatch: two builds, three rounds (round 10 sorts after round 2); insightface: one build, one round
    for build, values in (("base", (10.0, 12.0, 30.0)), ("off", (20.0, 21.0, 22.0))):
        for k, v in zip((1, 2, 10), values):
            (folder / f"dispatch_{build}_{k}.json").write_text(json.dumps({"rows_us": {"warp plain": v}}))
    (folder / "insightface_base_1.json").write_text(json.dumps(
        {"rows": [{"frame": "4K", "impl": "plan", "median_ms": 0.0635}]}))


def test_table_gives_each_round_and_the_median_per_build(tmp_path):
    _write(tmp_path)
    table = compare_table.collect(str(tmp_path))
    assert table[("dispatch", "warp plain (us)")] == {"base": [10.0, 12.0, 30.0], "off": [20.0, 21.0, 22.0]}
    text = compare_table.markdown(table, ["base", "off"])
    assert "| dispatch | warp plain (us) | 12.00 (10.00, 12.00, 30.00) | 21.00 (20.00, 21.00, 22.00) |" in text
    assert "| insightface | 4K plan (us) | 63.50 (63.50) | - |" in text  # a build without the row: "-"


def test_plot_draws_the_chosen_rows(tmp_path):
    pytest.importorskip("matplotlib")
    _write(tmp_path)
    png = tmp_path / "chart.png"
    compare_table.main([str(tmp_path), "base", "off", "--plot", str(png), "--rows", "warp;plan",
                        "--labels", "base=PDL, default;off=no PDL"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert compare_table.plot(compare_table.collect(str(tmp_path)), ["base"], ["warp"], {}, str(png), "") == 1


def test_bad_arguments_say_what_is_wrong(tmp_path):
    with pytest.raises(SystemExit, match="no BENCH_BUILD_ROUND.json"):
        compare_table.main([str(tmp_path), "base"])
    _write(tmp_path)
    with pytest.raises(SystemExit, match="needs --rows"):
        compare_table.main([str(tmp_path), "base", "--plot", str(tmp_path / "x.png")])
    pytest.importorskip("matplotlib")
    with pytest.raises(SystemExit, match="no row holds"):
        compare_table.main([str(tmp_path), "base", "--plot", str(tmp_path / "x.png"), "--rows", "nothing"])

"""The larger-than-RAM streaming measurement, on a tiny dataset (the real one is 26 GB: docs/benchmarks.md)."""

from __future__ import annotations

import json

from diamond_wm.bench.stream_large import main


def test_streams_every_step_and_reports_the_rss_then_removes_its_folder(tmp_path, capsys):
    assert main(["--dir", str(tmp_path), "--episodes", "2", "--frames", "40"]) == 0
    out = capsys.readouterr().out
    assert "streamed " in out and "GiB of episode files" in out
    assert list(tmp_path.iterdir()) == []  # nothing left behind without --keep
    results = json.loads(out[: out.rindex("}") + 1])
    assert results["episodes"] == 2
    assert results["segment_load_stream_bytes"] > 2 * 40 * 3 * 150 * 280  # the full-res frames, read
    assert 0 < results["segment_load_stream_rss_start_bytes"] <= results["segment_load_stream_rss_max_bytes"]

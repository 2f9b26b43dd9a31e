"""`diamond bench` dataset_convert and segment_load on tiny inputs (no timing assertions: rates are positive,
every key is there, the memory stays flat while streaming)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import run_cli

pytest.importorskip("h5py", reason="h5py is in the csgo and dev extras: pip install -e '.[dev]'")


def test_tiny_dataset_workloads_write_rates_against_the_raw_read_and_memory(tmp_path):
    out = tmp_path / "bench.json"
    res = run_cli(
        "bench", "--tiny", "--threads", "1", "--only", "dataset_convert,segment_load", "--json", str(out),
        timeout=180,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    r = json.loads(out.read_text())
    assert r["dataset_workloads"] == ["dataset_convert", "segment_load"] and r["workloads"] == []
    assert r["dataset_convert_frames"] == 16
    for w in (1, 2):
        assert r[f"dataset_convert_w{w}_fps"] > 0 and r[f"dataset_convert_w{w}_read_fps"] > 0
        ratio = r[f"dataset_convert_w{w}_fps"] / r[f"dataset_convert_w{w}_read_fps"]
        assert r[f"dataset_convert_w{w}_ratio"] == pytest.approx(ratio)
        assert f"dataset_convert, {w} worker" in res.stdout
    assert r["dataset_convert_read_low_level_fps"] > 0 and r["dataset_convert_w2_startup_s"] > 0
    for kind in ("denoiser", "upsampler"):
        for w in (0, 1, 2):
            assert r[f"segment_load_{kind}_w{w}_batches_per_s"] > 0, (kind, w)
        for w in (1, 2):
            assert r[f"segment_load_{kind}_w{w}_startup_s"] > 0
            assert r[f"segment_load_{kind}_w{w}_workers_rss_bytes"] > 0  # the workers were alive and measured
        assert f"{kind} batches" in res.stdout
    assert r["segment_load_stream_bytes"] > 0 and r["segment_load_stream_rss_start_bytes"] > 0
    assert abs(r["segment_load_stream_rss_growth"]) < 0.1  # nothing read is kept
    assert "streaming" in res.stdout and "denoiser_train_step" not in r
    assert "workload " not in res.stdout  # no empty table of timed workloads

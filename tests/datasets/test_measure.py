"""The conversion measurement `diamond bench` calls: the raw read and the conversion of the same frames."""

from __future__ import annotations

import pytest

pytest.importorskip("h5py", reason="h5py is in the csgo and dev extras: pip install -e '.[dev]'")

from diamond_wm.conversion.measure import make_csgo_input, measure_csgo_conversion, read_raw


def test_measure_counts_the_frames_of_both_and_compares_their_rates(tmp_path):
    tars = make_csgo_input(tmp_path / "in", episodes=2, frames=5)
    assert read_raw(tars)[0] == 10
    rate = measure_csgo_conversion(tars, tmp_path / "work", workers=1)
    assert rate.frames == 10 and rate.workers == 1 and rate.read_seconds > 0 and rate.convert_seconds > 0
    d = rate.as_dict()
    assert d["ratio"] == d["convert_fps"] / d["read_fps"] and d["convert_fps"] == 10 / rate.convert_seconds
    assert (tmp_path / "work" / "converted_1" / "low_res" / "train" / "info.pt").is_file()

"""Inputs the dataset tests make: a tar of synthetic CS:GO hdf5 episodes (the published keys and shapes)."""

from __future__ import annotations

from pathlib import Path

import pytest

NUM_FRAMES = 12  # published episodes have 1000; the converter reads any number


@pytest.fixture(scope="module")
def csgo_tars(tmp_path_factory) -> Path:
    """A folder holding `hdf5_dm_july2021_1_to_3.tar` (episodes 1, 2, 3 of 12 frames at 150x280)."""
    pytest.importorskip("h5py", reason="h5py is in the csgo and dev extras: pip install -e '.[dev]'")
    from diamond_wm.conversion.synthetic import write_csgo_tar

    folder = tmp_path_factory.mktemp("tars")
    write_csgo_tar(folder, 1, 3, NUM_FRAMES)
    return folder


def tree_bytes(root: Path) -> dict[str, bytes]:
    """Every file under `root` (relative path -> content), `.staging/` and `conversion.json` left out."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".staging" not in p.parts and p.name != "conversion.json"
    }

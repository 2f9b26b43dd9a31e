"""The real/imagined video: an mp4 (imageio-ffmpeg is a dependency) with a label above each panel."""

from __future__ import annotations

import imageio.v3 as iio
import numpy as np
import torch

from diamond_wm.evaluation import video


def frames(t: int, value: float) -> torch.Tensor:
    """(t, 3, 16, 16) float frames in [-1, 1]: a grey level, and a bright square that moves."""
    x = torch.full((t, 3, 16, 16), value)
    for i in range(t):
        x[i, :, 4:8, i % 12 : i % 12 + 4] = 1.0
    return x


def test_mp4_has_every_frame_and_labelled_panels(tmp_path):
    real, imagined = frames(7, -0.5), frames(7, 0.0)
    labelled = video.side_by_side(real, imagined, scale=8)
    plain = video.side_by_side(real, imagined, scale=8, labels=())
    label_h = labelled[0].shape[0] - plain[0].shape[0]
    assert label_h > 0 and labelled[0].shape[1] == plain[0].shape[1] == 2 * 128 + video.GAP_PX
    np.testing.assert_array_equal(
        labelled[3][label_h:], plain[3]
    )  # the panels are unchanged below the labels

    path = video.write_video(labelled, tmp_path / "v.mp4", fps=5)
    assert path == tmp_path / "v.mp4"
    read = iio.imread(path, index=None)
    assert read.shape == (7, *labelled[0].shape)
    for got, want in zip(read, labelled, strict=True):
        assert np.abs(got.astype(int) - want.astype(int)).mean() < 6  # lossy, close
    top = read[0, :label_h].astype(int)
    left, right = top[:, :128], top[:, 128 + video.GAP_PX :]
    assert left.max() > 128 and right.max() > 128  # white text on black
    assert np.abs(left - right).mean() > 5  # "real" and "imagined" are different words
    assert np.abs(top - plain[0][:label_h].astype(int)).mean() > 5  # the label rows are not the frame


def test_odd_sizes_are_padded_for_mp4(tmp_path):
    odd = [np.full((15, 21, 3), 200, dtype=np.uint8)] * 3
    read = iio.imread(video.write_video(odd, tmp_path / "odd.mp4"), index=None)
    assert read.shape == (3, 16, 22, 3)

"""The one-line summary of an epoch names every trained part's loss."""

from __future__ import annotations

from diamond_wm.training.summary import epoch_summary


def test_a_csgo_epoch_line_shows_the_denoiser_and_the_upsampler_losses():
    m = {
        "denoiser/loss_denoising": 1.05,
        "upsampler/loss_denoising": 0.731,
        "denoiser/time_s": 2.0,
        "upsampler/time_s": 3.0,
        "time/epoch_s": 5.2,
    }
    line = epoch_summary(2, 0, m, ["denoiser", "upsampler"], left=1, recent_epoch_s=[5.2])
    assert line == (
        "epoch 2 | env steps 0 | denoiser 1.05 | upsampler 0.731 | time denoiser 2s upsampler 3s | epoch 5.2s"
        " | 1 epoch left, ~0m05s"
    )

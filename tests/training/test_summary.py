"""The one-line summary of an epoch names every trained part's loss."""

from __future__ import annotations

from diamond_wm.training.summary import epoch_summary, final_summary


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


def test_the_last_line_of_a_run_says_what_it_measured():
    played = {"final/return_mean": 0.5, "test/denoiser/loss_denoising": 0.1}
    assert final_summary(100, 7, played) == "run finished: mean return over 100 test episodes 0.500"
    world_model = {"test/denoiser/loss_denoising": 0.01234, "test/rew_end_model/loss_total": 0.4}
    assert final_summary(0, 7, world_model) == (
        "run finished after 7 epochs: test losses denoiser 0.01234 | rew/end 0.4"
    )
    assert final_summary(0, 1, {}) == "run finished after 1 epoch (no test episodes, no test losses)"

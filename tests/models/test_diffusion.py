"""The diffusion package's pieces on their own: preconditioning identities and samplers on a known denoiser."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.models.diffusion import EDMPreconditioning, get_sigmas_karras, sample_euler_heun


def test_edm_preconditioning_gives_unit_variance_inputs_and_targets():
    sigma_data = 0.5
    pre = EDMPreconditioning(sigma_data=sigma_data, sigma_offset_noise=0.0)
    sigma = torch.tensor([0.002, 0.1, 1.0, 20.0], dtype=torch.float64)
    cs = pre(sigma)
    # EDM Appendix B.6: with x ~ (0, sigma_data^2) and noise sigma, c_in scales the noisy input to unit variance,
    # and the effective target (x - c_skip (x + n)) / c_out has unit variance.
    var_noisy = sigma_data**2 + sigma**2
    torch.testing.assert_close(cs.c_in**2 * var_noisy, torch.ones_like(sigma))
    var_target = (sigma_data**2 * (1 - cs.c_skip) ** 2 + cs.c_skip**2 * sigma**2) / cs.c_out**2
    torch.testing.assert_close(var_target, torch.ones_like(sigma))
    torch.testing.assert_close(cs.c_noise, sigma.log() / 4)


def test_offset_noise_raises_the_effective_noise_level():
    with_offset = EDMPreconditioning(0.5, 0.3)(torch.tensor([0.4]))
    plain = EDMPreconditioning(0.5, 0.0)(torch.tensor([0.5]))  # sqrt(0.4^2 + 0.3^2) = 0.5
    for a, b in zip(vars(with_offset).values(), vars(plain).values(), strict=True):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize(
    "order, num_steps, s_churn", [(1, 1, 0.0), (1, 3, 0.0), (2, 3, 0.0), (1, 4, 10.0)], ids=str
)
def test_a_perfect_denoiser_is_sampled_exactly(order, num_steps, s_churn):
    torch.manual_seed(0)
    x0 = torch.rand(2, 3, 4, 4) * 2 - 1
    calls = []

    def denoise(x, sigma):  # knows the answer whatever the noise: every ODE step lands on the line to x0
        calls.append(sigma.clone())
        assert sigma.shape == (2,)
        return x0

    sigmas = get_sigmas_karras(num_steps, 2e-3, 5.0, 7)
    trajectory: list[torch.Tensor] = []
    x = sample_euler_heun(denoise, torch.randn(2, 3, 4, 4) * 5, sigmas, order, s_churn, trajectory=trajectory)
    torch.testing.assert_close(x, x0)
    assert len(trajectory) == num_steps
    heun_calls = num_steps - 1 if order == 2 else 0  # no second evaluation on the last step, to sigma 0
    assert len(calls) == num_steps + heun_calls

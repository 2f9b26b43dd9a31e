"""Building blocks: group counts, adaptive GroupNorm, Fourier features, U-Net padding of odd sizes."""

from __future__ import annotations

import ast
import math
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from diamond_wm.models.blocks import AdaGroupNorm, FourierFeatures, GroupNorm, SelfAttention2d, num_groups
from diamond_wm.models.unet import UNet

MODELS_DIR = Path(__file__).resolve().parents[2] / "src" / "diamond_wm" / "models"


@pytest.mark.parametrize("channels, groups", [(4, 1), (32, 1), (63, 1), (64, 2), (256, 8)])
def test_group_counts(channels: int, groups: int) -> None:
    assert num_groups(channels) == groups
    norm = GroupNorm(channels).norm
    assert norm.num_groups == groups and norm.eps == 1e-5


def test_ada_group_norm_formula() -> None:
    torch.manual_seed(0)
    m = AdaGroupNorm(64, 10)
    x, cond = torch.randn(2, 64, 5, 5), torch.randn(2, 10)
    scale, shift = m.linear(cond).chunk(2, dim=1)
    expected = F.group_norm(x, 2, eps=1e-5) * (1 + scale[..., None, None]) + shift[..., None, None]
    torch.testing.assert_close(m(x, cond), expected)
    with pytest.raises(ValueError, match="64 channels"):
        m(torch.randn(2, 32, 5, 5), cond)


def test_fourier_features() -> None:
    torch.manual_seed(0)
    ff = FourierFeatures(16)
    assert "weight" in dict(ff.named_buffers()) and not list(ff.parameters())
    x = torch.tensor([0.0, 0.3])
    out = ff(x)
    assert out.shape == (2, 16)
    torch.testing.assert_close(out[0], torch.cat((torch.ones(8), torch.zeros(8))))
    f = 2 * math.pi * 0.3 * ff.weight[0]
    torch.testing.assert_close(out[1], torch.cat((f.cos(), f.sin())))
    with pytest.raises(ValueError, match="shape"):
        ff(torch.zeros(2, 1))


def test_attention_heads() -> None:
    assert SelfAttention2d(64).n_head == 8
    assert SelfAttention2d(4).n_head == 1


@pytest.mark.parametrize("h, w", [(16, 16), (15, 13), (7, 9)])
def test_unet_pads_odd_sizes(h: int, w: int) -> None:
    torch.manual_seed(0)
    unet = UNet(cond_channels=8, depths=[1, 1, 1], channels=[8, 8, 16], attn_depths=[0, 1, 0])
    x, cond = torch.randn(2, 8, h, w), torch.randn(2, 8)
    assert unet(x, cond).shape == (2, 8, h, w)


def test_models_import_no_environments_or_loaders() -> None:
    """The model code imports only config, the Batch dataclass, atomic writes, safe loads, the compile helpers
    and itself; no env libraries."""
    allowed_project = (
        "diamond_wm.config",
        "diamond_wm.data.batch",
        "diamond_wm.models",
        "diamond_wm.runtime.atomic",
        "diamond_wm.runtime.compile",
        "diamond_wm.runtime.safe_load",
    )
    forbidden = ("gymnasium", "gym", "ale_py", "cv2", "pygame")
    for path in sorted(MODELS_DIR.glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                if name.startswith("diamond_wm"):
                    assert name.startswith(allowed_project), f"{path.name} imports {name}"
                assert name.split(".")[0] not in forbidden, f"{path.name} imports {name}"

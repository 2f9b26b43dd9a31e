"""diamond-wm: DIAMOND (Diffusion for World Modeling, Alonso et al., NeurIPS 2024), re-implemented."""

__version__ = "0.1.0"

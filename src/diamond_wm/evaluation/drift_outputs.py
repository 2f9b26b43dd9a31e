"""What `diamond eval drift` writes: the plot of error against imagination step, the side-by-side video
(real | each model at each number of denoising steps), a grid of the first context's frames at a few imagination
steps, and the summary table it prints."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from diamond_wm.data.frames import to_float_frames
from diamond_wm.evaluation.drift import DriftContexts
from diamond_wm.evaluation.video import panels, write_video

LINESTYLES = ("-", "--", ":", "-.")
TABLE_STEPS = (1, 5, 10, 25, 50)


def plot_drift(report: dict[str, Any], path: str | Path) -> Path:
    """PNG: mean MSE and PSNR of the mean MSE against imagination step, one line per model x steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    fig, (ax_mse, ax_psnr) = plt.subplots(1, 2, figsize=(11, 4))
    colors = plt.get_cmap("tab10").colors
    steps_axis = list(range(1, report["horizon"] + 1))
    for i, model in enumerate(report["models"]):
        for j, (s, run) in enumerate(model["steps"].items()):
            style = {"color": colors[i % len(colors)], "linestyle": LINESTYLES[j % len(LINESTYLES)]}
            label = f"{model['label']}, {s} step{'s' if s != '1' else ''}"
            ax_mse.plot(steps_axis, run["mse_mean"], label=label, **style)
            ax_psnr.plot(steps_axis, run["psnr_of_mean_mse"], label=label, **style)
    baseline = report.get("baseline")
    if baseline is not None:
        style = {"color": "black", "linestyle": ":", "label": baseline["label"]}
        ax_mse.plot(steps_axis, baseline["mse_mean"], **style)
        ax_psnr.plot(steps_axis, baseline["psnr_of_mean_mse"], **style)
    ax_mse.set(
        xlabel="imagination step", ylabel="MSE (frames in [0, 1])", title="error against the real frames"
    )
    ax_psnr.set(
        xlabel="imagination step", ylabel="PSNR of the mean MSE (dB)", title="PSNR (higher is better)"
    )
    for ax in (ax_mse, ax_psnr):
        ax.grid(alpha=0.3)
    ax_mse.legend(fontsize=7)
    n = report["num_contexts"]
    fig.suptitle(
        f"Imagined vs real: {n} test contexts, {report['num_conditioning']} real frames then autoregressive"
    )
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def drift_video(
    report: dict[str, Any],
    contexts: DriftContexts,
    firsts: list[dict[int, torch.Tensor]],
    path: str | Path,
    fps: int = 4,
) -> Path:
    """The first context: real | each model at each number of steps, the n real context frames first on all."""
    n = contexts.num_conditioning
    real = contexts.obs[0]  # (n + H, C, H, W) uint8
    columns, labels = [to_float_frames(real)], ["real"]
    for model, first in zip(report["models"], firsts, strict=True):
        for s, imagined in first.items():
            columns.append(to_float_frames(torch.cat((real[:n], imagined))))
            labels.append(f"{model['label'].split(' ')[0][:12]} x{s}")
    side = real.shape[-1]
    return write_video(panels(columns, max(1, 128 // side), labels), path, fps)


def frames_grid(
    report: dict[str, Any],
    contexts: DriftContexts,
    firsts: list[dict[int, torch.Tensor]],
    path: str | Path,
    at: tuple[int, ...] = TABLE_STEPS,
) -> Path:
    """PNG of the first context: the last real context frame, then rows real | each model x steps at a few
    imagination steps."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n, horizon = contexts.num_conditioning, contexts.horizon
    shown = [k for k in at if k <= horizon] or [horizon]
    rows = [("real", contexts.obs[0, n:])]
    for model, first in zip(report["models"], firsts, strict=True):
        rows += [(f"{model['label']} x{s}", imagined) for s, imagined in first.items()]
    fig, axes = plt.subplots(
        len(rows), len(shown) + 1, figsize=(1.1 * (len(shown) + 1) + 1.2, 1.1 * len(rows))
    )
    axes = axes.reshape(len(rows), len(shown) + 1)
    for r, (label, frames) in enumerate(rows):
        images = [contexts.obs[0, n - 1]] + [frames[k - 1] for k in shown]
        for c, image in enumerate(images):
            ax = axes[r, c]
            ax.imshow(image.permute(1, 2, 0).numpy(), interpolation="nearest")
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title("context" if c == 0 else f"step {shown[c - 1]}", fontsize=8)
        axes[r, 0].set_ylabel(label, fontsize=8, rotation=0, ha="right", va="center")
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=80)
    plt.close(fig)
    return path


def summary_table(report: dict[str, Any], at: tuple[int, ...] = TABLE_STEPS) -> str:
    """Markdown table: mean MSE at a few imagination steps, per model and number of denoising steps."""
    shown = [k for k in at if k <= report["horizon"]] or [report["horizon"]]
    head = (
        "| model | denoising steps | " + " | ".join(f"MSE @ {k}" for k in shown) + " | PSNR @ last | wall |"
    )
    rows = [head, "|" + " --- |" * (len(shown) + 4)]
    for model in report["models"]:
        for s, run in model["steps"].items():
            cells = [f"{run['mse_mean'][k - 1]:.4f}" for k in shown]
            psnr = f"{run['psnr_of_mean_mse'][-1]:.1f} dB"
            rows.append(
                f"| {model['label']} | {s} | " + " | ".join(cells) + f" | {psnr} | {run['wall_s']:.1f} s |"
            )
    baseline = report.get("baseline")
    if baseline is not None:
        cells = [f"{baseline['mse_mean'][k - 1]:.4f}" for k in shown]
        psnr = f"{baseline['psnr_of_mean_mse'][-1]:.1f} dB"
        rows.append(f"| {baseline['label']} | - | " + " | ".join(cells) + f" | {psnr} | - |")
    return "\n".join(rows)

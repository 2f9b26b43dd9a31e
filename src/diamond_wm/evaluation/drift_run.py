"""`diamond eval drift`: load the world models, imagine from the test contexts at each number of denoising steps,
and gather the JSON report (see `diamond_wm.evaluation.drift` for what is measured)."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import torch

from diamond_wm.config.actions import action_mismatch
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.evaluation.drift import (
    DriftContexts,
    DriftError,
    check_steps,
    copy_last_frame,
    imagine,
    max_psnr,
    select_contexts,
    step_errors,
    with_steps,
)
from diamond_wm.loading.agent import LoadedAgent, LoadError, is_run_dir, load_checkpoint, load_run
from diamond_wm.loading.agent_config import AgentRequest
from diamond_wm.models.world_model import WorldModel
from diamond_wm.runtime.threads import ThreadGovernor

log = logging.getLogger(__name__)

PERCEPTUAL_PACKAGES = ("torchmetrics", "lpips", "piq")


@dataclass
class DriftModel:
    """A loaded world model and its label in the report, the plot and the video."""

    label: str
    source: Path
    loaded: LoadedAgent

    @property
    def parameterisation(self) -> str:
        return self.loaded.agent.cfg.denoiser.parameterisation


def load_world_model(
    target: str | Path,
    device: torch.device | str = "cpu",
    request: Optional[AgentRequest] = None,
    require_denoiser: bool = True,
) -> LoadedAgent:
    """A run folder's latest agent or an agent checkpoint file (no game needed); LoadError without a denoiser
    unless `require_denoiser` is False (for the other parts alone)."""
    target = Path(target)
    if target.is_dir():
        if not is_run_dir(target):
            raise LoadError(
                f"{target} is not a training run folder (no config/trainer.yaml, no checkpoints/): "
                "give run folders or agent checkpoint files"
            )
        loaded = load_run(target, device=device, agent_request=request)
    elif target.is_file():
        loaded = load_checkpoint(target, device=device, agent_request=request, require_env=False)
    else:
        raise LoadError(f"model not found: {target} (expected a run folder or an agent checkpoint file)")
    if require_denoiser and loaded.agent.denoiser is None:
        raise LoadError(f"{loaded.checkpoint} has no denoiser: the drift evaluation needs a world model")
    return loaded


def model_labels(targets: list[Path], loaded: list[LoadedAgent], labels: Optional[list[str]]) -> list[str]:
    """The given labels, else each run folder's (or file's) name with its parameterisation (unless that is the
    name), made unique."""
    if labels is not None:
        if len(labels) != len(targets) or len(set(labels)) != len(labels):
            raise DriftError(
                f"--labels {','.join(labels)}: expected {len(targets)} distinct labels, one per model"
            )
        return labels
    names = []
    for target, la in zip(targets, loaded, strict=True):
        name = target.resolve().name if target.is_dir() else target.stem
        param = la.agent.cfg.denoiser.parameterisation
        names.append(name if name == param else f"{name} ({param})")
    return [n if names.count(n) == 1 else f"{n} #{i + 1}" for i, n in enumerate(names)]


def open_episodes(
    path: str | Path, option: str = "--dataset", name: Optional[str] = None, cache_in_ram: bool = False
) -> EpisodeDataset:
    """A dataset folder's episodes, read-only; DriftError naming `option` and the folder when it is missing or
    holds no episode."""
    path = Path(path)
    if not path.is_dir():
        raise DriftError(f"{option} {path}: folder not found (expected a dataset folder of episodes)")
    dataset = EpisodeDataset(path, name=name, read_only=True, cache_in_ram=cache_in_ram)
    if dataset.num_episodes == 0:
        raise DriftError(f"{option} {path}: no episode found (expected a dataset folder of episodes)")
    return dataset


def open_test_dataset(path: str | Path) -> EpisodeDataset:
    """The test episodes: a dataset folder, or a static dataset's root holding test/ (DriftError otherwise)."""
    path = Path(path)
    if (path / "test").is_dir() and not (path / "info.pt").is_file():
        path = path / "test"
    return open_episodes(path)


def static_test_dataset(targets: list[Path], loaded: list[LoadedAgent]) -> EpisodeDataset:
    """The test episodes when no --dataset is given: those of the static dataset the models' runs trained on (its
    test split, else its training split); DriftError when a model's run trained on none, or they differ."""
    from diamond_wm.loading.static_run import contexts_folder, run_static_dataset

    folders = {}
    for target, la in zip(targets, loaded, strict=True):
        paths = run_static_dataset(la.run_dir, la.run_cfg)
        if paths is None:
            raise DriftError(
                f"{target} was not trained on a static dataset (static_dataset.path): give its test episodes "
                "with --dataset DIR"
            )
        folders[target] = contexts_folder(paths).resolve()
    if len(set(folders.values())) > 1:
        found = ", ".join(f"{t}: {f}" for t, f in folders.items())
        raise DriftError(f"the models trained on different datasets ({found}): choose one with --dataset DIR")
    folder = next(iter(folders.values()))
    log.info("test episodes: %s (the static dataset the models trained on)", folder)
    return open_test_dataset(folder)


def check_actions(model: DriftModel, dataset: EpisodeDataset) -> None:
    """DriftError when the dataset's recorded actions are not the model's."""
    spec = dataset.action_spec
    if spec is None:
        return
    mismatch = action_mismatch(
        model.loaded.agent.action_spec, model.label, spec, f"--dataset {dataset.directory}"
    )
    if mismatch is not None:
        raise DriftError(f"{mismatch}: a world model of another game?")


def perceptual_note() -> str:
    """Why no perceptual distance is reported."""
    found = [p for p in PERCEPTUAL_PACKAGES if importlib.util.find_spec(p) is not None]
    if not found:
        return f"absent: none of {', '.join(PERCEPTUAL_PACKAGES)} is installed"
    return (
        f"absent: {', '.join(found)} installed, but their perceptual networks load pretrained weights from the "
        "network at first use, which this evaluation does not do"
    )


def _jsonable(value: Any) -> Any:
    return value if not isinstance(value, float) or math.isfinite(value) else str(value)


def evaluate_model(
    model: DriftModel,
    contexts: DriftContexts,
    steps: list[int],
    seed: int,
    batch_size: int,
    adapt_threads: Optional[Callable[[], int]] = None,
) -> tuple[dict[str, Any], dict[int, torch.Tensor]]:
    """The model's report entry, and its imagined frames of the first context per number of steps;
    `adapt_threads()` runs before each batch (the CPU's `ThreadGovernor.adapt`)."""
    agent = model.loaded.agent
    results, first = {}, {}
    real = contexts.obs[:, contexts.num_conditioning :]  # (N, H, C, H, W)
    for s in steps:
        sampler = agent.denoiser.build_sampler(with_steps(model.loaded.sampler, s))
        world_model = WorldModel(sampler, None, None, agent.action_spec, seed)  # frames only: no rewards
        start = time.perf_counter()
        chunks = []
        for b in range(0, contexts.num_contexts, batch_size):
            if adapt_threads is not None:
                adapt_threads()
            obs, act = contexts.obs[b : b + batch_size], contexts.act[b : b + batch_size]
            rows = range(b, b + len(obs))
            chunks.append(imagine(world_model, obs, act, contexts.horizon, rows))
        imagined = torch.cat(chunks)
        wall = time.perf_counter() - start
        first[s] = imagined[0]
        frames = contexts.num_contexts * contexts.horizon
        timing = {"wall_s": wall, "s_per_frame": wall / frames, "torch_threads": torch.get_num_threads()}
        results[str(s)] = {**timing, **step_errors(real, imagined)}
        log.info("%s, %d denoising steps: %d frames imagined in %.1fs", model.label, s, frames, wall)
    entry = {
        "label": model.label,
        "source": str(model.source),
        "checkpoint": str(model.loaded.checkpoint),
        "epoch": model.loaded.epoch,
        "parameterisation": model.parameterisation,
        "denoiser_parameters": agent.num_parameters().get("denoiser"),
        "sampler": {k: _jsonable(v) for k, v in dataclasses.asdict(model.loaded.sampler).items()},
        "steps": results,
    }
    return entry, first


def run_drift(
    models: list[DriftModel],
    dataset: EpisodeDataset,
    steps: list[int],
    horizon: int,
    num_episodes: Optional[int] = None,
    seed: int = 0,
    batch_size: int = 32,
    per_episode: int = 1,
) -> tuple[dict[str, Any], DriftContexts, list[dict[int, torch.Tensor]]]:
    """(report, contexts, per model {steps: imagined frames of the first context (H, C, H, W) uint8})."""
    conditioning = {m.loaded.agent.denoiser.num_steps_conditioning for m in models}
    if len(conditioning) != 1:
        raise DriftError(f"the models condition on different numbers of frames ({sorted(conditioning)})")
    for m in models:
        check_steps(steps, m.loaded.agent.denoiser, m.label)
        check_actions(m, dataset)
    contexts = select_contexts(dataset, conditioning.pop(), horizon, num_episodes, seed, per_episode)
    if contexts.note:
        log.warning("%s", contexts.note)
    torch.manual_seed(seed)
    start = time.perf_counter()
    entries, firsts = [], []
    on_cpu = models[0].loaded.agent.device.type == "cpu"
    governor = ThreadGovernor() if on_cpu else None  # torch on the cores other processes leave free
    saved_threads = torch.get_num_threads()
    try:
        if governor is not None:
            governor.start()
        for m in models:
            entry, first = evaluate_model(
                m, contexts, steps, seed, batch_size, governor.adapt if governor is not None else None
            )
            entries.append(entry)
            firsts.append(first)
    finally:
        torch.set_num_threads(saved_threads)
    frame_values = int(contexts.obs[0, 0].numel())
    report = {
        "dataset": str(dataset.directory),
        "num_contexts": contexts.num_contexts,
        "contexts": [
            {"episode": e, "start": s} for e, s in zip(contexts.episodes, contexts.starts, strict=True)
        ],
        "num_conditioning": contexts.num_conditioning,
        "horizon": contexts.horizon,
        "horizon_requested": contexts.horizon_requested,
        "note": contexts.note,
        "denoising_steps": steps,
        "seed": seed,
        "batch_size": batch_size,
        "actions": "recorded (teacher-forced); imagined frames fed back (autoregressive)",
        "metrics": "per imagination step, over the contexts: mean and population std of the MSE of 8-bit frames in "
        f"[0, 1] and of their PSNR (identical frames: {max_psnr(frame_values):.1f} dB), and the PSNR of the mean MSE",
        "perceptual": perceptual_note(),
        "device": str(models[0].loaded.agent.device),
        "models": entries,
        "baseline": {
            "label": "copy of the last context frame",
            **step_errors(contexts.obs[:, contexts.num_conditioning :], copy_last_frame(contexts)),
        },
        "wall_s": time.perf_counter() - start,
    }
    return report, contexts, firsts

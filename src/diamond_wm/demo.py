"""`make demo`: the whole DIAMOND loop on the built-in Catch game, on CPU, in minutes.

Trains the `demo` preset (`diamond train --config-name demo`) in `outputs/demo/` (resuming it if it was
interrupted, reusing it if it is finished), then prints the trained agent's mean return over the final test
episodes next to a uniformly random policy's on the same episodes.
"""

from __future__ import annotations

import json
import logging
import math
import sys
import time
from pathlib import Path

import torch

from diamond_wm.config.compose import compose_trainer_config, load_run_config, to_trainer_config
from diamond_wm.data.dataset import EpisodeDataset
from diamond_wm.envs.factory import make_env
from diamond_wm.runtime.cpu import describe_cpu
from diamond_wm.runtime.logs import setup_logging
from diamond_wm.training.collector import Collector
from diamond_wm.training.metrics import read_metrics
from diamond_wm.training.run_dir import RunDir
from diamond_wm.training.run_state import FINAL_EVAL_SEED_OFFSET
from diamond_wm.training.trainer import Trainer

log = logging.getLogger("diamond_wm.demo")

DEMO_RUN_DIR = Path("outputs") / "demo"
RETURNS = {  # what a return means in the built-in games
    "diamond_wm/CatchDemo-v0": "one ball each: +1 caught, -1 missed",
    "diamond_wm/Catch-v0": "3 balls each: returns from -3 to +3",
}


def _mean_std(xs: list[float]) -> tuple[float, float]:
    m = sum(xs) / len(xs)
    return m, math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))


def random_policy_returns(cfg, num_episodes: int, seed: int) -> list[float]:
    """Returns of uniformly random actions in the test environment, from the same episode starts."""
    env = make_env(cfg.env.test, cfg.env.type, cfg.collection.test.num_envs, "cpu")
    try:
        collector = Collector(
            env,
            EpisodeDataset(None, name="random"),
            policy=None,
            reset_every_collect=True,
            show_progress=False,
            generator=torch.Generator().manual_seed(seed),  # the same random actions at every call
        )
        return collector.collect(num_episodes=num_episodes, seed=seed).returns
    finally:
        env.close()


def main(run_dir: Path = DEMO_RUN_DIR) -> int:
    start = time.monotonic()
    setup_logging()
    run = RunDir(run_dir)
    if run.config_file.is_file():
        cfg = load_run_config(run.config_file)
        log.info("continuing the demo run in %s (delete it to train from scratch)", run_dir)
    else:
        cfg = to_trainer_config(compose_trainer_config(config_name="demo"))
    Trainer(cfg, run_dir).run()
    final = json.loads(run.finished_marker.read_text())
    returns = final.get("final/returns") or []
    n = cfg.collection.test.num_final_episodes
    rand = random_policy_returns(cfg, n, cfg.common.seed + FINAL_EVAL_SEED_OFFSET)
    trained_mean = final.get("final/return_mean", float("nan"))
    rand_mean, rand_std = _mean_std(rand)
    meaning = RETURNS.get(cfg.env.test.id, "")
    print(f"\nDIAMOND demo on {cfg.env.test.id} ({n} test episodes{'; ' + meaning if meaning else ''}):")
    std = f" ± {_mean_std(returns)[1]:.2f}" if returns else ""
    print(f"  agent trained in its world model: mean return {trained_mean:+.2f}{std}")
    print(f"  uniformly random policy:          mean return {rand_mean:+.2f} ± {rand_std:.2f}")
    epoch_s = [r["time/epoch_s"] for r in read_metrics(run.metrics_file) if "time/epoch_s" in r]
    print(f"training: {len(epoch_s)} epochs in {sum(epoch_s) / 60:.1f} min (final test episodes not counted)")
    print(f"run folder: {run_dir}  (open it with: diamond play {run_dir})")
    wall = int(time.monotonic() - start)
    print(f"machine: {describe_cpu()}; wall time of this demo: {wall // 60}m{wall % 60:02d}s")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""`make demo`: the main job on the embedded default configuration.

Training has not landed yet, so this composes and validates the packaged paper configuration, resolves the
device and the seed, and says what it did. It becomes `diamond train` on the `demo` preset when training lands.
"""

from __future__ import annotations

import logging
import sys

from omegaconf import OmegaConf

from diamond_wm.config.compose import compose_trainer_config, to_trainer_config
from diamond_wm.runtime.devices import resolve_devices
from diamond_wm.runtime.logs import setup_logging
from diamond_wm.runtime.seeding import seed_everything

log = logging.getLogger("diamond_wm.demo")


def main() -> int:
    setup_logging()
    cfg = compose_trainer_config()
    trainer_cfg = to_trainer_config(cfg)
    devices = resolve_devices(trainer_cfg.common.devices)
    seed = seed_everything(trainer_cfg.common.seed)
    n_keys = len(OmegaConf.to_yaml(cfg).splitlines())
    log.info(
        "composed and validated the packaged paper configuration (%d lines, game %s) on %s with seed %d",
        n_keys,
        trainer_cfg.env.train.id,
        devices[0],
        seed,
    )
    log.info("training is not available yet in this version: nothing was trained")
    return 0


if __name__ == "__main__":
    sys.exit(main())

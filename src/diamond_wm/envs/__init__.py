"""Real environments behind one batched torch interface (`TorchEnv`); registers `diamond_wm/Catch-v0`."""

from diamond_wm.envs.base import StepResult, TorchEnv, check_actions
from diamond_wm.envs.catch import CatchEnv, register_catch

register_catch()

from diamond_wm.envs.factory import make_env  # noqa: E402
from diamond_wm.envs.vector import GymVectorTorchEnv  # noqa: E402

__all__ = [
    "CatchEnv",
    "GymVectorTorchEnv",
    "StepResult",
    "TorchEnv",
    "check_actions",
    "make_env",
    "register_catch",
]

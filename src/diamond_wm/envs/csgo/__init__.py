"""CS:GO (Dust II), DIAMOND's keyboard-and-mouse world model: the action encoding."""

from diamond_wm.envs.csgo.actions import (
    ACTION_SIZE,
    ActionGroup,
    CSGOAction,
    CSGOActionLayout,
    check_vector,
    csgo_action_layout,
    csgo_action_spec,
    decode,
    encode,
    pygame_key_names,
)

__all__ = [
    "ACTION_SIZE",
    "ActionGroup",
    "CSGOAction",
    "CSGOActionLayout",
    "check_vector",
    "csgo_action_layout",
    "csgo_action_spec",
    "decode",
    "encode",
    "pygame_key_names",
]

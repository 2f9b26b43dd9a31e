"""The human player's keys (by name), built from the action meanings."""

from __future__ import annotations

from diamond_wm.interactive.keymap import Keymap, parse_meaning

ATARI_FULL = [
    "NOOP", "FIRE", "UP", "RIGHT", "LEFT", "DOWN", "UPRIGHT", "UPLEFT", "DOWNRIGHT", "DOWNLEFT",
    "UPFIRE", "RIGHTFIRE", "LEFTFIRE", "DOWNFIRE", "UPRIGHTFIRE", "UPLEFTFIRE", "DOWNRIGHTFIRE", "DOWNLEFTFIRE",
]  # fmt: skip


def test_parse_meaning():
    assert parse_meaning("NOOP") == frozenset()
    assert parse_meaning("UPRIGHTFIRE") == {"UP", "RIGHT", "FIRE"}
    assert parse_meaning("DOWNLEFT") == {"DOWN", "LEFT"}
    assert parse_meaning("JUMP") is None


def test_breakout_keys():
    km = Keymap.from_action_names(["NOOP", "FIRE", "RIGHT", "LEFT"])
    assert km.action([]) == 0
    assert km.action(["space"]) == 1
    assert km.action(["d"]) == 2
    assert km.action(["a"]) == 3
    assert km.action(["q"]) == 0  # unmapped key: noop
    assert "space : FIRE" in "\n".join(km.describe())


def test_full_atari_action_set_uses_the_largest_held_combination():
    km = Keymap.from_action_names(ATARI_FULL)
    assert len(km.combos) == 17
    assert km.action(["w", "d", "space"]) == ATARI_FULL.index("UPRIGHTFIRE")
    assert km.action(["s", "a"]) == ATARI_FULL.index("DOWNLEFT")
    assert km.action(["w", "space"]) == ATARI_FULL.index("UPFIRE")
    assert km.action(["w"]) == ATARI_FULL.index("UP")
    assert "w + d + space : UPRIGHTFIRE" in km.describe()  # keys by name, directions before fire


def test_catch_and_unnamed_actions():
    km = Keymap.from_action_names(["NOOP", "LEFT", "RIGHT"])
    assert km.action(["a"]) == 1 and km.action(["d"]) == 2
    km = Keymap.from_action_names(["0", "1", "2"])  # no meanings: digit keys
    assert km.action(["2"]) == 2 and km.action([]) == 0
    assert km.describe()[1].split() == ["2", ":", "2"]


def test_env_keymap_selects_the_keys_or_is_refused_in_one_line():
    import pytest

    from diamond_wm.config.errors import ConfigError
    from diamond_wm.interactive.keymap import keymap_for_config

    breakout = ["NOOP", "FIRE", "RIGHT", "LEFT"]
    km = keymap_for_config("atari/BreakoutNoFrameskip-v4", breakout, "BreakoutNoFrameskip-v4")
    assert km.action(["space"]) == 1 and km.action(["a"]) == 3
    assert keymap_for_config(None, ["0", "1", "2"], "diamond_wm/Foo-v0").action(["2"]) == 2  # digit keys
    with pytest.raises(
        ConfigError, match=r"^invalid config: env.keymap='csgo': expected null .* goes with env.type=csgo$"
    ):
        keymap_for_config("csgo", breakout, "BreakoutNoFrameskip-v4")
    with pytest.raises(
        ConfigError, match="env.keymap='atari/PongNoFrameskip-v4': expected null .* or atari/Breakout"
    ):
        keymap_for_config("atari/PongNoFrameskip-v4", breakout, "BreakoutNoFrameskip-v4")
    with pytest.raises(
        ConfigError, match=r"expected null: the actions of Foo \(0, 1\) are not Atari meanings$"
    ):
        keymap_for_config("atari/Foo", ["0", "1"], "Foo")

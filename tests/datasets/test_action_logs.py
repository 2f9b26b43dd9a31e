"""Action logs (CSV / JSONL, one row per frame) read into actions of a spec; bad rows are one line naming file and line."""

from __future__ import annotations

import pytest
import torch

from diamond_wm.config.actions import ActionGroup, ActionSpec
from diamond_wm.conversion.synthetic import write_action_log
from diamond_wm.datasets.action_logs import read_action_log
from diamond_wm.envs.csgo.actions import csgo_action_spec, encode

NAMED = ActionSpec.discrete(3, ["noop", "left", "right"])


def test_discrete_actions_by_index_or_name_rewards_and_episode_ends(tmp_path):
    rows = [
        {"frame": 0, "action": 2, "reward": 0, "end": 0},
        {"frame": 1, "action": "left", "reward": 1.5, "end": 0},
        {"frame": 2, "action": "", "reward": "", "end": 1},  # the terminal frame: no action, no reward
        {"frame": 3, "action": 0, "reward": -1, "end": 0},
    ]
    for suffix in (".csv", ".jsonl"):
        log = read_action_log(write_action_log(tmp_path / f"a{suffix}", rows), NAMED)
        assert log.act.tolist() == [2, 1, 0, 0] and log.act.dtype == torch.int64
        assert log.rew.tolist() == [0, 1.5, 0, -1] and log.end.tolist() == [0, 0, 1, 0]
        assert log.episode_ranges() == [(0, 3), (3, 4)]
        assert [log.num_steps(r) for r in log.episode_ranges()] == [2, 1] and log.ends((0, 3))
        assert log.lines == ([2, 3, 4, 5] if suffix == ".csv" else [1, 2, 3, 4])


def test_csgo_keys_columns_and_mouse_values_encode_like_the_keymap(tmp_path):
    rows = [
        {"keys": "w+space", "l_click": 0, "mouse_x": 7, "mouse_y": -3},
        {"keys": "", "l_click": 1, "mouse_x": 2000, "mouse_y": 49},
        {"keys": "a+left shift+r", "l_click": 0, "mouse_x": -15, "mouse_y": ""},
        {
            "keys": "3",
            "l_click": 0,
            "mouse_x": 3,
            "mouse_y": "mouse_y=-4",
        },  # 3: a key name, and a mouse value
    ]
    log = read_action_log(write_action_log(tmp_path / "a.csv", rows), csgo_action_spec())
    expected = [
        encode(["w", "space"], 7, -3),
        encode([], 2000, 49, l_click=True),
        encode(["a", "left shift", "r"], -15, 0),
        encode(["3"], 3, -4),
    ]
    assert torch.equal(log.act, torch.stack([a.to_vector() for a in expected]))
    csgo_action_spec().validate(log.act)


def test_jsonl_keys_as_a_list_and_a_one_hot_group_by_dimension_name(tmp_path):
    spec = ActionSpec.multi_hot(
        [ActionGroup("buttons", ("a", "b")), ActionGroup("dir", ("up", "down"), one_hot=True)]
    )
    rows = [{"time": 0.0, "keys": ["a", "b"], "dir": "down"}, {"time": 0.5, "keys": [], "dir": "up", "b": 1}]
    log = read_action_log(write_action_log(tmp_path / "a.jsonl", rows), spec)
    assert log.act.tolist() == [[1, 1, 0, 1], [0, 1, 1, 0]] and log.times == [0.0, 0.5]


@pytest.mark.parametrize(
    "rows, spec, fragment, line",
    [
        ([{"action": 1, "jump": 1}], NAMED, "unknown key name 'jump'", 1),
        ([{"keys": "w"}, {"keys": "w+q"}], "csgo", "unknown key name 'q' in keys", 3),
        ([{"frame": 0, "action": 1}, {"frame": 2, "action": 1}], NAMED, "frame 2, expected 1", 3),
        (
            [{"action": 1}, {"action": 3}],
            NAMED,
            "action '3': expected an index in [0, 3) or one of noop, left",
            3,
        ),
        (
            [{"action": 1}, {"action": "RIGHT"}],
            NAMED,
            "action 'RIGHT' is neither an index nor an action name: expected an index in [0, 3) or one of noop, left, "
            "right",
            3,
        ),
        (
            [{"action": "FIRE"}],
            ActionSpec.discrete(4),
            "action 'FIRE' is neither an index nor an action name: expected an index in [0, 4) (the action spec "
            "names no action; a JSON spec can)",
            2,
        ),
        (
            [{"action": 1}, {"action": ""}],
            NAMED,
            "no action (a column 'action': expected an index in [0, 3) or",
            3,
        ),
        ([{"time": 1.0, "action": 0}, {"time": 1.0, "action": 0}], NAMED, "times must increase", 3),
        ([{"keys": "w", "mouse_x": "fast"}], "csgo", "mouse_x 'fast' is not a number", 2),
        ([{"action": 1}], "csgo", "unknown key name 'action'", 1),
    ],
)
def test_a_bad_row_is_one_line_naming_the_file_and_the_line(tmp_path, rows, spec, fragment, line):
    path = write_action_log(tmp_path / "game.csv", rows)
    with pytest.raises(ValueError) as info:
        read_action_log(path, csgo_action_spec() if spec == "csgo" else spec)
    text = str(info.value)
    assert len(text.splitlines()) == 1
    assert text.startswith(f"{path}: line {line}: ") and fragment in text


def test_jsonl_unknown_key_names_its_line(tmp_path):
    path = write_action_log(tmp_path / "game.jsonl", [{"action": 0}, {"action": 1, "fire": 1}])
    with pytest.raises(ValueError, match=rf"^{path}: line 2: unknown key name 'fire' \(expected frame, time"):
        read_action_log(path, NAMED)

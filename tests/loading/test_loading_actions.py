"""Run folders record their action spec; loading uses it, and a checkpoint of other actions is one error line."""

from __future__ import annotations

import shutil

import pytest

from diamond_wm.config.actions import ActionGroup, ActionSpec, read_action_spec, write_action_spec
from diamond_wm.loading.agent import LoadError, check_action_spec, load_checkpoint, load_run


def test_a_run_records_its_actions_and_loading_uses_them(tiny_run, tmp_path):
    recorded = read_action_spec(tiny_run / "config" / "action_spec.json")
    assert recorded == ActionSpec.discrete(3, ["NOOP", "LEFT", "RIGHT"])  # Catch's, from its environment
    assert read_action_spec(tiny_run / "dataset" / "train" / "action_spec.json") == recorded
    assert load_run(tiny_run).agent.action_spec == recorded
    newest = sorted((tiny_run / "checkpoints" / "agent_versions").iterdir())[-1]
    assert load_checkpoint(newest).agent.action_spec == recorded  # a file inside the run folder

    older = tmp_path / "older"  # a run folder without the file (published, or older diamond-wm): as before
    shutil.copytree(tiny_run, older)
    (older / "config" / "action_spec.json").unlink()
    assert load_run(older).agent.action_spec == ActionSpec.discrete(3)

    other = tmp_path / "other"  # the recorded kind is used: an actor-critic cannot act on multi-hot actions
    shutil.copytree(tiny_run, other)
    write_action_spec(
        other / "config" / "action_spec.json", ActionSpec.multi_hot([ActionGroup("keys", ("a", "b", "c"))])
    )
    with pytest.raises(
        LoadError, match="the actor-critic chooses among discrete actions, not 3-dim multi-hot"
    ):
        load_run(other)


def test_a_checkpoint_of_other_actions_is_one_line_naming_both():
    multi_hot = ActionSpec.multi_hot(
        [ActionGroup("keys", ("w", "a")), ActionGroup("x", ("-", "+"), one_hot=True)]
    )
    with pytest.raises(LoadError) as e:
        check_action_spec(multi_hot, "csgo.pt", ActionSpec.discrete(4), "BreakoutNoFrameskip-v4")
    assert str(e.value) == (
        "checkpoint csgo.pt has 4-dim multi-hot actions (keys 2, x 2 one-hot) but BreakoutNoFrameskip-v4 has "
        "4 actions: a checkpoint of another game? (--env-id)"
    )
    with pytest.raises(LoadError, match="^checkpoint b.pt has 3 actions but Breakout has 4 actions: "):
        check_action_spec(ActionSpec.discrete(3), "b.pt", ActionSpec.discrete(4), "Breakout")
    check_action_spec(
        ActionSpec.discrete(4), "b.pt", ActionSpec.discrete(4, ["A", "B", "C", "D"]), "Breakout"
    )

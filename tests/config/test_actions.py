"""`ActionSpec`: the two kinds, their plain form, and one-line validation errors."""

from __future__ import annotations

import json
import re

import pytest
import torch

from diamond_wm.config.actions import ActionGroup, ActionSpec, read_action_spec, write_action_spec


def csgo_like() -> ActionSpec:
    return ActionSpec.multi_hot(
        [
            ActionGroup("keys", ("w", "a", "s")),
            ActionGroup("clicks", ("l_click", "r_click")),
            ActionGroup("mouse_x", ("-1", "0", "1"), one_hot=True),
        ]
    )


def test_kinds_and_dims():
    d = ActionSpec.discrete(4, ["NOOP", "FIRE", "RIGHT", "LEFT"])
    assert d.is_discrete and d.num_action_dims == 4 and d.dtype == torch.int64
    assert d.describe() == "4 actions" and d.labels[1] == "FIRE"
    assert ActionSpec.discrete(2).labels == ["0", "1"]
    m = csgo_like()
    assert not m.is_discrete and m.num_action_dims == 8 and m.dtype == torch.float32
    assert m.describe() == "8-dim multi-hot actions (keys 3, clicks 2, mouse_x 3 one-hot)"
    assert m.labels[3] == "clicks:l_click"
    assert d.zeros(2, 3).shape == (2, 3) and m.zeros(2, 3).shape == (2, 3, 8)
    assert not m.zeros(1).any() and m.zeros(1).dtype == torch.float32


@pytest.mark.parametrize("spec", [ActionSpec.discrete(3), ActionSpec.discrete(2, ["L", "R"]), csgo_like()])
def test_round_trip_through_json(spec, tmp_path):
    assert ActionSpec.from_dict(json.loads(json.dumps(spec.to_dict()))) == spec
    write_action_spec(tmp_path / "action_spec.json", spec)
    assert read_action_spec(tmp_path / "action_spec.json") == spec
    assert read_action_spec(tmp_path / "absent.json") is None


def test_equality_and_layout():
    assert ActionSpec.discrete(3) != ActionSpec.discrete(3, ["a", "b", "c"])
    assert ActionSpec.discrete(3).same_layout(ActionSpec.discrete(3, ["a", "b", "c"]))
    assert not ActionSpec.discrete(8).same_layout(csgo_like())  # same number, other kind
    assert not ActionSpec.discrete(3).same_layout(ActionSpec.discrete(4))


@pytest.mark.parametrize(
    "data, message",
    [
        ({"kind": "keys"}, "action spec of kind 'keys': expected a mapping with kind discrete or multi_hot"),
        ([1, 2], "action spec of kind 'list'"),
        ({"kind": "discrete"}, "discrete action spec without 'num_actions'"),
        ({"kind": "discrete", "num_actions": 0}, "num_action_dims=0: expected an integer >= 1"),
        ({"kind": "discrete", "num_actions": 3, "names": ["a"]}, "1 action names for 3 discrete actions"),
        ({"kind": "multi_hot", "groups": "keys"}, "groups 'keys': expected a list of {name, names, one_hot}"),
        ({"kind": "multi_hot", "groups": [{"name": "keys"}]}, "multi_hot action spec without 'names'"),
        (
            {"kind": "multi_hot", "groups": []},
            "multi-hot actions without groups: expected at least one group",
        ),
    ],
)
def test_from_dict_errors_are_one_line(data, message):
    with pytest.raises(ValueError, match="^" + re.escape(message)) as e:
        ActionSpec.from_dict(data)
    assert "\n" not in str(e.value)


def test_a_bad_file_names_itself(tmp_path):
    path = tmp_path / "action_spec.json"
    path.write_text("{not json")
    with pytest.raises(ValueError, match=f"^{path}: "):
        read_action_spec(path)


def test_discrete_validation():
    spec = ActionSpec.discrete(3)
    spec.validate(torch.tensor([0, 2, 1]))
    with pytest.raises(ValueError, match=r"^actions \[3, 7\] out of range: expected indices in \[0, 3\)$"):
        spec.validate(torch.tensor([0, 3, 7, 3]))
    with pytest.raises(
        ValueError, match=r"^actions of dtype torch.float32: expected integer indices of 3 actions"
    ):
        spec.validate(torch.zeros(2))


def test_multi_hot_validation():
    spec = csgo_like()
    ok = torch.tensor([[1, 0, 1, 0, 1, 0, 1, 0], [0, 0, 0, 0, 0, 1, 0, 0]], dtype=torch.float32)
    spec.validate(ok)
    with pytest.raises(ValueError, match=r"^actions of dtype torch.int64: expected float vectors of 8-dim"):
        spec.validate(ok.long())
    with pytest.raises(ValueError, match=r"^actions of shape \(2, 7\): expected \(\.\.\., 8\) vectors"):
        spec.validate(ok[:, :7])
    bad = ok.clone()
    bad[0, 0] = 0.5
    with pytest.raises(
        ValueError, match=r"^actions hold \[0.5\]: expected 0 or 1 in each of the 8 dimensions$"
    ):
        spec.validate(bad)
    two_bins = ok.clone()
    two_bins[1, 7] = 1
    with pytest.raises(ValueError, match="2 hot entries in the one-hot group 'mouse_x' \\(dimensions 5-7\\)"):
        spec.validate(two_bins)


def test_infer_from_recorded_actions():
    assert ActionSpec.infer(torch.tensor([0, 4, 2])) == ActionSpec.discrete(5)
    inferred = ActionSpec.infer(torch.zeros(3, 6))
    assert inferred.kind == "multi_hot" and inferred.num_action_dims == 6

"""The CS:GO action encoding: every case of `csgo_actions.json`, the layout against it, and hand-written rules."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

from diamond_wm.envs.csgo import CSGOAction, check_vector, csgo_action_layout, decode, encode
from diamond_wm.envs.csgo import actions as A

NUM_ENCODE_CASES, NUM_DECODE_CASES = 64, 21


@pytest.fixture
def ref(reference_dir) -> dict:
    return json.loads((reference_dir / "csgo_actions.json").read_text())


def _vector(hot: list[int]) -> torch.Tensor:
    v = torch.zeros(51)
    v[hot] = 1.0
    return v


# --- conformance: csgo_actions.json ---------------------------------------------------------------------------


def test_case_counts(ref):
    assert (len(ref["encode_cases"]), len(ref["decode_cases"])) == (NUM_ENCODE_CASES, NUM_DECODE_CASES)


@pytest.mark.parametrize("i", range(NUM_ENCODE_CASES))
def test_encode_case(ref, i):
    case = ref["encode_cases"][i]
    act = encode(case["keys_pressed"], case["mouse_dx"], case["mouse_dy"], case["l_click"], case["r_click"])
    msg = f"case {i}: {case.get('note', '')}"
    assert list(act.keys) == case["keys_kept"], msg
    assert (act.mouse_x, act.mouse_y) == (case["mouse_x"], case["mouse_y"]), msg
    assert (act.l_click, act.r_click) == (case["l_click"], case["r_click"]), msg
    assert list(act.hot_indices()) == case["hot"], msg
    vec = act.to_vector()
    assert vec.dtype == torch.float32 and vec.shape == (51,)
    assert torch.equal(vec, torch.tensor(case["vector"], dtype=torch.float32)), msg


@pytest.mark.parametrize("i", range(NUM_DECODE_CASES))
@pytest.mark.parametrize("as_type", ["tensor", "list"])
def test_decode_case(ref, i, as_type):
    case = ref["decode_cases"][i]
    vector = torch.tensor(case["vector"], dtype=torch.float32) if as_type == "tensor" else case["vector"]
    act = decode(vector)
    got = dict(
        keys=list(act.keys),
        l_click=act.l_click,
        r_click=act.r_click,
        mouse_x=act.mouse_x,
        mouse_y=act.mouse_y,
    )
    assert got == {k: case[k] for k in got}, f"case {i}: {case.get('note', '')}"


def test_layout_matches_reference(ref):
    layout = csgo_action_layout()
    assert layout.size == ref["size"] == len(layout.names)
    assert tuple(ref["key_order"]) == A.KEY_ORDER == layout.names[: len(A.KEY_ORDER)]
    assert (tuple(ref["mouse_x_bins"]), tuple(ref["mouse_y_bins"])) == (A.MOUSE_X_BINS, A.MOUSE_Y_BINS)
    assert (tuple(ref["mouse_x_limits"]), tuple(ref["mouse_y_limits"])) == (
        A.MOUSE_X_LIMITS,
        A.MOUSE_Y_LIMITS,
    )
    spans = {g.name: (g.start, g.stop) for g in layout.groups}
    lay = ref["layout"]
    assert spans["keys"] == tuple(lay["keys"])
    assert spans["clicks"] == (lay["l_click"], lay["r_click"] + 1) == (A.L_CLICK, A.R_CLICK + 1)
    assert spans["mouse_x"] == tuple(lay["mouse_x"]) and spans["mouse_y"] == tuple(lay["mouse_y"])
    assert {g.name for g in layout.groups if g.one_hot} == {"mouse_x", "mouse_y"}
    assert ref["keymap"] == A.KEY_ACTIONS
    assert set(A.FORBIDDEN_COMBINATIONS) == {frozenset(c) for c in ref["forbidden_combinations"]}
    overrides = {key: dict([axis_value]) for key, axis_value in A.ARROW_OVERRIDES.items()}
    assert overrides == ref["arrow_overrides"]
    assert set(A.ARROW_KEYS) == set(ref["keymap"]) - set(ref["key_order"])


def test_pygame_key_codes_match_reference(ref):
    pytest.importorskip("pygame")
    assert A.pygame_key_names() == {code: name for name, code in ref["pygame_key_codes"].items()}


# --- hand-written rules (no reference data needed) ------------------------------------------------------------


def test_layout_names_and_groups_cover_the_vector():
    layout = csgo_action_layout()
    assert layout.size == 51 and len(set(layout.names)) == 51
    assert [(g.name, g.start, g.stop) for g in layout.groups] == [
        ("keys", 0, 11),
        ("clicks", 11, 13),
        ("mouse_x", 13, 36),
        ("mouse_y", 36, 51),
    ]
    assert layout.names[11:13] == ("l_click", "r_click")
    assert layout.names[24] == "mouse_x=0" and layout.names[43] == "mouse_y=0"
    assert layout.group("mouse_y").slice == slice(36, 51)
    with pytest.raises(ValueError, match="no action group 'mouse'"):
        layout.group("mouse")


def test_first_pressed_of_a_forbidden_pair_wins_and_repeats_stay():
    assert encode(["s", "w", "d", "a"]).keys == ("s", "d")
    assert encode(["3", "2", "1", "r"]).keys == ("3", "r")
    assert encode(["d", "d", "tab", "x"]).keys == ("d", "d")
    assert encode(["up", "down", "right", "left"]).keys == ("up", "right")


def test_mouse_is_clipped_then_snapped_with_ties_going_down():
    assert (encode([], 5, 3).mouse_x, encode([], 5, 3).mouse_y) == (4, 2)  # 5: 4|10 -> 4;  3: 2|4 tie -> 2
    assert encode([], 15, -15).mouse_x == 10 and encode([], 15, -15).mouse_y == -20  # ties: 10|20, -20|-10
    assert encode([], -1e9, 1e9).hot_indices() == (13, 50)
    assert encode([], np.float32(-0.5), torch.tensor(45.0)).mouse_x == 0


def test_arrow_keys_override_their_axis_only():
    act = encode(["right", "up", "w"], mouse_dx=-400, mouse_dy=30)
    assert (act.mouse_x, act.mouse_y) == (60, -50)
    assert act.hot_indices() == (0, 30, 38)  # arrows have no slot; w does
    assert encode(["down"], mouse_dx=-350).mouse_x == -300  # x untouched by a y arrow


def test_decode_inverts_encode_for_binary_vectors():
    for keys, dx, dy, lc, rc in [
        ([], 0, 0, False, False),
        (["d", "space", "r"], -70, 13, True, False),
        (["left shift", "w", "left"], 300, -200, False, True),
    ]:
        act = encode(keys, dx, dy, lc, rc)
        back = decode(act.to_vector(), strict=True)
        assert back.keys == tuple(k for k in A.KEY_ORDER if k in act.keys)
        assert (back.l_click, back.r_click, back.mouse_x, back.mouse_y) == (lc, rc, act.mouse_x, act.mouse_y)
        assert torch.equal(back.to_vector(), act.to_vector())


def test_decode_reads_soft_values():
    v = _vector([7, 8, 24, 43])
    v[2], v[4], v[11], v[12], v[20] = 0.5, 0.51, 0.5, -0.6, 2.0  # s: half to even -> 0; space -> 1
    act = decode(v)
    assert act.keys == ("space", "1")  # 2 dropped: weapon 1 was kept first
    assert (act.l_click, act.r_click, act.mouse_x) == (False, True, -20)


def test_action_is_validated():
    with pytest.raises(ValueError, match="mouse_x 5 is not a bin"):
        CSGOAction(mouse_x=5)
    with pytest.raises(ValueError, match="unknown CS:GO key 'q'"):
        CSGOAction(keys=("q",))
    assert CSGOAction(keys=["w"]).keys == ("w",)


@pytest.mark.parametrize(
    "bad, message",
    [
        (torch.zeros(50), r"has shape \(50,\): expected \(51,\) \(11 keys, 2 clicks, 23 mouse-x bins"),
        (torch.zeros(2, 51), r"has shape \(2, 51\): expected \(51,\)"),
        (["a"] * 51, "of type list is not numeric: expected 51 numbers"),
        (
            _vector([24, 43]).index_fill(0, torch.tensor([30]), float("nan")),
            r"nan at index 30 \(mouse_x=60\)",
        ),
    ],
)
def test_malformed_vectors_raise_one_line(bad, message):
    for strict in (False, True):
        with pytest.raises(ValueError, match=message) as err:
            decode(bad, strict=strict)
        assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "hot, change, message",
    [
        ([5, 24, 43], (5, 0.7), r"0.7 at index 5 \(left ctrl\): expected 0 or 1 \(strict decoding\)"),
        ([24, 43], (11, -1.0), r"-1 at index 11 \(l_click\): expected 0 or 1"),
        (
            [18, 30, 43],
            None,
            r"hot entries at index 18 \(mouse_x=-60\), index 30 \(mouse_x=60\) in one-hot group mouse_x: "
            "expected exactly one",
        ),
        ([24], None, "no hot entry in one-hot group mouse_y: expected exactly one"),
    ],
)
def test_strict_decoding_refuses_non_binary_and_bad_one_hot(hot, change, message):
    v = _vector(hot)
    if change:
        v[change[0]] = change[1]
    decode(v)  # the lenient reading (the published one) accepts it
    with pytest.raises(ValueError, match=message) as err:
        check_vector(v, strict=True)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: encode("w"), "keys_pressed must be a sequence of key names, got the string 'w'"),
        (lambda: encode([119]), r"keys_pressed holds 119 \(int\): expected key names such as 'w'"),
        (lambda: encode([], float("nan")), "mouse_dx nan is not finite"),
        (lambda: encode([], 0, "up"), "mouse_dy 'up' is not a number"),
    ],
)
def test_bad_encode_inputs_raise_one_line(call, message):
    with pytest.raises(ValueError, match=message) as err:
        call()
    assert "\n" not in str(err.value)


def test_import_does_not_import_pygame():
    code = "import sys, diamond_wm.envs.csgo.actions; print('PYGAME', 'pygame' in sys.modules)"
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "PYGAME False" in res.stdout

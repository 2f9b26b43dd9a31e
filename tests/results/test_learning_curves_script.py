"""scripts/learning_curves.py: a run's final score against random's on the same episodes, and its figure."""

from __future__ import annotations

import json
import math

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def curves():
    return load_script("learning_curves")


def fake_run(path, evaluations, final):
    path.mkdir()
    rows = [{"epoch": 0, "env_steps": 5000}]
    for steps, returns in evaluations:
        rows.append({"epoch": len(rows), "env_steps": steps, "test/returns": returns})
        rows.append({"epoch": len(rows), "denoiser/loss_denoising": 0.1})  # no env_steps: the last one holds
    (path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    (path / "FINISHED").write_text(json.dumps({"final/returns": final}))
    return path


def test_mean_and_standard_error(curves):
    assert curves.mean_se([1.0, 3.0]) == (2.0, 1.0)  # sample std sqrt(2), / sqrt(2)
    mean, se = curves.mean_se([4.0])
    assert mean == 4.0 and math.isnan(se)
    assert curves.margin((5.0, 0.3), (1.0, 0.4)) == pytest.approx(8.0)


def test_table_and_figure(curves, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    run = fake_run(tmp_path / "boxing_s0", [(5400, [0.0, 2.0]), (5800, [4.0, 6.0])], [5.0, 7.0, 6.0, 6.0])
    assert curves.read_curve(run) == [(5400, 1.0, 1.0), (5800, 5.0, 1.0)]
    assert curves.read_curve(run, "epoch") == [(1, 1.0, 1.0), (3, 5.0, 1.0)]
    with pytest.raises(ValueError, match="x 'steps': expected one of env_steps, epoch"):
        curves.read_curve(run, "steps")
    rand = tmp_path / "random.json"
    rand.write_text(json.dumps({"epsilon": 1.0, "returns": [0.0, 1.0, -1.0, 0.0]}))
    out = tmp_path / "fig" / "curve.png"
    assert curves.main([str(run), "--random", str(rand), "--out", str(out)]) == 0
    table = capsys.readouterr().out.splitlines()
    # final 6.00 +- 0.41, random 0.00 +- 0.41: 6 / sqrt(2 * 1/6) = 10.4 standard errors of the difference
    assert table[2] == "| boxing_s0 | +6.00 +- 0.41 (4 episodes) | +0.00 +- 0.41 (4) | 10.4 |"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    by_epoch = tmp_path / "by_epoch.png"
    assert curves.main([str(run), "--random", str(rand), "--out", str(by_epoch), "--x", "epoch"]) == 0
    assert by_epoch.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_refuses_what_is_not_a_random_policy_or_a_finished_run(curves, tmp_path):
    greedy = tmp_path / "greedy.json"
    greedy.write_text(json.dumps({"epsilon": 0.0, "returns": [1.0]}))
    with pytest.raises(ValueError, match="epsilon 0.0, expected 1.0"):
        curves.read_random(greedy)
    (tmp_path / "unfinished").mkdir()
    with pytest.raises(FileNotFoundError, match="no FINISHED"):
        curves.read_final(tmp_path / "unfinished")

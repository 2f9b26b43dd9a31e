"""scripts/loss_curves.py: per-update losses of runs against the spread of reference runs."""

from __future__ import annotations

import json

import pytest

from tests.conftest import load_script


@pytest.fixture(scope="module")
def curves():
    return load_script("loss_curves")


def fake_run(path, epochs):
    path.mkdir()
    rows = [{"epoch": 0}] + [{"epoch": i + 1, "denoiser/loss_per_update": e} for i, e in enumerate(epochs)]
    (path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + '\n{"cut sh')
    return path


def test_smoothing_and_the_band(curves):
    assert curves.smooth([4.0, 2.0, 6.0, 0.0], 2) == [4.0, 3.0, 4.0, 3.0]
    refs = [[1.0, 1.0, 1.0], [3.0, 3.0, 3.0]]
    assert curves.inside_share([2.0, 0.5, 3.0], refs, 0) == pytest.approx(2 / 3)
    assert curves.inside_share([2.0, 0.5, 3.0], refs, 1) == 0.5
    with pytest.raises(ValueError, match="fewer than the window"):
        curves.inside_share([2.0], refs, 1)


def test_runs_epochs_are_concatenated_and_compared(curves, tmp_path, capsys):
    a = fake_run(tmp_path / "fp32_s0", [[1.0, 0.8], [0.6]])
    b = fake_run(tmp_path / "fp32_s1", [[1.2, 1.0], [0.8]])
    c = fake_run(tmp_path / "bf16_s0", [[1.1, 1.5], [0.7]])
    assert curves.per_update_losses(a, "denoiser") == [1.0, 0.8, 0.6]
    assert curves.main(["--reference", str(a), str(b), "--candidate", str(c), "--window", "1"]) == 0
    out = capsys.readouterr().out
    assert "reference runs: mean loss 0.9000" in out
    assert "a run like the reference runs: inside their band 33% of the time" in out  # (2 - 1) / (2 + 1)
    assert f"{c}: mean loss 1.1000, 67% of updates inside the reference band" in out
    with pytest.raises(ValueError, match="no rew_end_model/loss_per_update"):
        curves.per_update_losses(a, "rew_end_model")

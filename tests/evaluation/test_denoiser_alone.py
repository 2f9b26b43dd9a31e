"""scripts/denoiser_alone.py: a world model's denoiser trained further (or a new one), its one-step frames read by
the world model's fixed reward model on held-out segments."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import load_script

TINY = ["env=catch", "env.train.size=16", "denoiser.training.batch_size=2"]


def _lines(out: str) -> list[str]:
    return out.splitlines()


def test_it_trains_the_denoiser_and_reads_its_frames(drift_runs, capsys, tmp_path):
    alone = load_script("denoiser_alone")
    data, run = drift_runs["dataset"], drift_runs["edm"]
    argv = [str(data / "train"), str(data / "test"), *TINY, "--world-model", str(run)]
    argv += ["--updates", "3", "--every", "2", "--threads", "1", "--save", str(tmp_path / "w")]
    assert alone.main(argv) == 0
    out = _lines(capsys.readouterr().out)
    assert out[1].startswith("real frames: loss ")
    assert [line.split(" (")[0] for line in out[2:]] == ["update 0", "update 2", "update 3"]
    losses = [float(line.split("held-out denoising loss ")[1].split(";")[0]) for line in out[2:]]
    assert losses[0] != losses[-1]  # the denoiser was trained between the lines
    for line in out[2:]:
        imagined = line.split("imagined frames: ")[1]
        assert imagined.startswith("loss ") and "-1: read " in imagined and "+1: read " in imagined
    saved = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert saved == ["denoiser_00000.pt", "denoiser_00002.pt", "denoiser_00003.pt"]
    first, last = (torch.load(tmp_path / "w" / n) for n in (saved[0], saved[-1]))
    assert any(not torch.equal(first[k], last[k]) for k in first)


def test_the_held_out_loss_is_drawn_with_the_same_noise(drift_runs, capsys):
    alone = load_script("denoiser_alone")
    data, run = drift_runs["dataset"], drift_runs["edm"]
    argv = [str(data / "train"), str(data / "test"), *TINY, "--world-model", str(run), "--updates", "1"]
    assert alone.main([*argv, "--threads", "1"]) == 0
    first = _lines(capsys.readouterr().out)[2]
    # Another seed: other training draws, the same held-out ones.
    assert alone.main([*argv, "--threads", "1", "--seed", "5"]) == 0
    again = _lines(capsys.readouterr().out)[2]
    assert first.split(" (")[0] == again.split(" (")[0] == "update 0"
    assert first.split("): ")[1] == again.split("): ")[1]  # the starting denoiser scored the same


def test_a_new_denoiser_takes_the_overrides(drift_runs, capsys):
    alone = load_script("denoiser_alone")
    data, run = drift_runs["dataset"], drift_runs["edm"]
    argv = [str(data / "train"), str(data / "test"), *TINY, "--world-model", str(run), "--updates", "1"]
    sizes = []
    for channels in ("[8,8,8]", "[16,16,16]"):
        wide = f"agent.denoiser.inner_model.channels={channels}"
        assert alone.main([*argv, "--from-scratch", wide, "--threads", "1"]) == 0
        header = _lines(capsys.readouterr().out)[0]
        assert "(new)" in header
        sizes.append(int(header.split("denoiser of ")[1].split()[0]))
    assert sizes[0] < sizes[1]


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--updates", "-1"], "--updates must be >= 0 and --every >= 1, got -1 and 500"),
        (["--steps", "0"], "--steps must be >= 1, got 0"),
    ],
)
def test_bad_values_are_named(flags, message, capsys):
    alone = load_script("denoiser_alone")
    with pytest.raises(SystemExit):
        alone.main(["a", "b", "--world-model", "m", *flags])
    assert message in capsys.readouterr().err


def test_a_model_that_is_not_there_is_named(tmp_path, drift_runs):
    alone = load_script("denoiser_alone")
    data = drift_runs["dataset"]
    with pytest.raises(SystemExit, match="--world-model: model not found: .*nothing.pt"):
        alone.main([str(data / "train"), str(data / "test"), "--world-model", str(tmp_path / "nothing.pt")])


def test_saved_weights_score_as_they_did(drift_runs, capsys, tmp_path):
    alone = load_script("denoiser_alone")
    data, run = drift_runs["dataset"], drift_runs["edm"]
    argv = [str(data / "train"), str(data / "test"), *TINY, "--world-model", str(run), "--threads", "1"]
    assert alone.main([*argv, "--updates", "1", "--save", str(tmp_path)]) == 0
    trained = _lines(capsys.readouterr().out)[3]
    assert alone.main([*argv, "--updates", "0", "--weights", str(tmp_path / "denoiser_00001.pt")]) == 0
    out = _lines(capsys.readouterr().out)
    assert len(out) == 3 and str(tmp_path / "denoiser_00001.pt") in out[0]
    assert out[2].split("): ")[1] == trained.split("): ")[1]


def test_weights_of_another_denoiser_are_refused(drift_runs, tmp_path):
    alone = load_script("denoiser_alone")
    data, run = drift_runs["dataset"], drift_runs["edm"]
    bad = tmp_path / "bad.pt"
    torch.save({"nothing": torch.zeros(1)}, bad)
    argv = [str(data / "train"), str(data / "test"), *TINY, "--world-model", str(run), "--weights", str(bad)]
    with pytest.raises(SystemExit, match="--weights .*bad.pt: not this denoiser's weights"):
        alone.main([*argv, "--updates", "0"])


def test_a_save_folder_holding_weights_is_refused_and_kept(drift_runs, capsys, tmp_path):
    alone = load_script("denoiser_alone")
    data, run = drift_runs["dataset"], drift_runs["edm"]
    argv = [str(data / "train"), str(data / "test"), *TINY, "--world-model", str(run), "--threads", "1"]
    assert alone.main([*argv, "--updates", "1", "--save", str(tmp_path)]) == 0
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(before) == ["denoiser_00000.pt", "denoiser_00001.pt"]
    with pytest.raises(SystemExit):
        alone.main(
            [
                *argv,
                "--updates",
                "1",
                "--weights",
                str(tmp_path / "denoiser_00001.pt"),
                "--save",
                str(tmp_path),
            ]
        )
    err = capsys.readouterr().err
    assert (
        f"--save {tmp_path}: already holds 2 denoiser weight file(s) (denoiser_00000.pt, denoiser_00001.pt)"
        in err
    )
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before  # nothing replaced
    (tmp_path / "file").write_text("x")
    with pytest.raises(SystemExit):
        alone.main([*argv, "--save", str(tmp_path / "file")])
    assert f"--save {tmp_path / 'file'}: not a folder" in capsys.readouterr().err


def test_dataset_folders_that_are_missing_or_empty_are_named(drift_runs, tmp_path):
    alone = load_script("denoiser_alone")
    data, run = drift_runs["dataset"], drift_runs["edm"]
    with pytest.raises(SystemExit, match=f"TRAIN_DIR {tmp_path / 'none'}: folder not found"):
        alone.main([str(tmp_path / "none"), str(data / "test"), "--world-model", str(run)])
    (tmp_path / "empty").mkdir()
    with pytest.raises(SystemExit, match=f"HELDOUT_DIR {tmp_path / 'empty'}: no episode found"):
        alone.main([str(data / "train"), str(tmp_path / "empty"), "--world-model", str(run)])

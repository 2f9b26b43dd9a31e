"""`diamond dataset csgo | import | info | verify`, run in a subprocess as a user would."""

from __future__ import annotations

import signal
import subprocess
import time

import numpy as np
import pytest

from diamond_wm.cli.main import main
from diamond_wm.data.published_layout import episode_relpath
from tests.conftest import cli_command, cli_env, run_cli

pytest.importorskip("h5py", reason="h5py is in the csgo and dev extras: pip install -e '.[dev]'")
pytest.importorskip("av", reason="PyAV is in the video and dev extras: pip install -e '.[dev]'")

from diamond_wm.conversion.synthetic import write_action_log, write_csgo_episode, write_csgo_tar, write_video


def test_each_dataset_command_has_help_with_a_description(capsys):
    assert "dataset" in run_cli("--help").stdout
    described = {
        (): "Make datasets from recorded play",
        ("csgo",): "Convert the published CS:GO recordings",
        ("import",): "Import your own game",
        ("spawn",): "Spawn points for",
        ("info",): "What the datasets of a folder hold",
        ("verify",): "Read every episode file of the datasets",
    }
    for command, description in described.items():
        with pytest.raises(SystemExit) as exit_info:
            main(["dataset", *command, "--help"])
        assert exit_info.value.code == 0
        usage = f"usage: diamond dataset {' '.join(command)}".rstrip()
        out = capsys.readouterr().out
        assert out.startswith(usage) and description in out, (command, out)
    main_help = run_cli("dataset", "import", "--help").stdout
    assert "--overwrite" in main_help and "terminal frame" in main_help


def test_csgo_conversion_then_info_and_verify_naming_a_corrupted_episode(tmp_path):
    write_csgo_tar(tmp_path / "tars", 1, 3, 6)
    out = tmp_path / "out"
    res = run_cli("dataset", "csgo", str(tmp_path / "tars"), str(out), "--workers", "1")
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert (
        lines[0].startswith("converted 3 episodes (18 frames) in ")
        and "0 already done, 0 failed, of 3 files" in lines[0]
    )
    assert lines[1] == f"train: 2 episodes, 12 steps -> {out / 'low_res' / 'train'}"
    assert lines[2] == f"test: 1 episode, 6 steps -> {out / 'low_res' / 'test'}"
    assert lines[3] == "test split: the published test_split.txt (500 files)"
    again = run_cli("dataset", "csgo", str(tmp_path / "tars"), str(out))
    assert (
        again.returncode == 0 and "converted 0 episodes" in again.stdout and "3 already done" in again.stdout
    )
    info = run_cli("dataset", "info", str(out))
    assert (
        info.returncode == 0
        and "low_res/train: 2 episodes, 12 steps (lengths 6-6), frames 3x30x56" in info.stdout
    )
    assert run_cli("dataset", "verify", str(out)).returncode == 0
    bad = out / "low_res" / "train" / episode_relpath(1)
    bad.write_bytes(bad.read_bytes()[:-100])
    res = run_cli("dataset", "verify", str(out))
    assert res.returncode == 1
    assert res.stderr.splitlines()[0].startswith(f"diamond dataset verify: episode file {bad}: unreadable")
    assert res.stderr.splitlines()[-1] == f"diamond dataset: 1 problem(s) in {out} (listed above)"


def test_csgo_conversion_killed_midway_resumes_to_the_same_files(tmp_path):
    """SIGTERM (or Ctrl-C) while episodes are being written: exit 130 with a line saying how to resume; the rerun
    converts the rest, and the files are those of an uninterrupted conversion."""
    from diamond_wm.conversion.csgo_convert import convert_csgo
    from tests.datasets.conftest import tree_bytes

    write_csgo_tar(tmp_path / "tars", 1, 4, 150)
    out, meta = tmp_path / "out", tmp_path / "out" / ".staging" / "meta"
    proc = subprocess.Popen(
        cli_command("dataset", "csgo", str(tmp_path / "tars"), str(out), "--workers", "1"),
        env=cli_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    # a finished meta file, not the temporary one it is written to (which an interrupt removes)
    while (
        not (meta.is_dir() and any(meta.glob("*.json")))
        and proc.poll() is None
        and time.monotonic() < deadline
    ):
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)  # after the first episode, well before the fourth
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert stderr.strip().splitlines()[-1] == (
        "diamond dataset: interrupted (converted episodes are kept: run the same command again to resume)"
    )
    assert 1 <= len(list(meta.iterdir())) < 4 and not (out / "low_res").exists()
    res = run_cli("dataset", "csgo", str(tmp_path / "tars"), str(out), "--workers", "1")
    assert res.returncode == 0 and " 0 failed, of 4 files" in res.stdout
    done = int(res.stdout.split(" already done")[0].rsplit(" ", 1)[-1])
    assert 1 <= done < 4 and res.stdout.startswith(f"converted {4 - done} episodes")
    convert_csgo(tmp_path / "tars", tmp_path / "reference", progress=False)
    assert tree_bytes(out) == tree_bytes(tmp_path / "reference") and len(tree_bytes(out)) == 4 + 4
    assert not list(out.rglob("*.tmp"))


def test_csgo_conversion_with_a_damaged_file_exits_1_naming_it(tmp_path):
    write_csgo_episode(tmp_path / "in" / "hdf5_dm_july2021_1.hdf5", 4)
    (tmp_path / "in" / "hdf5_dm_july2021_2.hdf5").write_bytes(b"truncated download")
    res = run_cli("dataset", "csgo", str(tmp_path / "in"), str(tmp_path / "out"), "--test-split", "every:10")
    assert res.returncode == 1
    failed = [line for line in res.stdout.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and str(tmp_path / "in" / "hdf5_dm_july2021_2.hdf5") in failed[0]
    assert "WARNING" in res.stderr.splitlines()[0] and "hdf5_dm_july2021_2.hdf5" in res.stderr.splitlines()[0]
    assert res.stderr.splitlines()[-1] == "diamond dataset: 1 file(s) could not be converted (listed above)"


def make_videos(folder, rows=10):
    frames = np.random.default_rng(0).integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    write_video(folder / "run1.mp4", frames)
    write_action_log(folder / "run1.csv", [{"frame": i, "keys": "w", "mouse_x": 3} for i in range(rows)])


def test_import_prints_a_summary(tmp_path):
    make_videos(tmp_path / "videos")
    out = tmp_path / "out"
    res = run_cli(
        "dataset",
        "import",
        str(tmp_path / "videos"),
        str(out),
        "--actions",
        "csv",
        "--action-spec",
        "csgo",
        "--size",
        "8x8",
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[:3] == [
        res.stdout.splitlines()[0],
        f"train: 1 episode, 10 steps -> {out / 'low_res' / 'train'}",
        f"test: 0 episodes, 0 steps -> {out / 'low_res' / 'test'}",
    ]
    assert res.stdout.startswith("imported 1 episode (10 frames) from 1 video in ")
    assert res.stdout.splitlines()[-1] == (
        f"train with: diamond train --config-name world_model static_dataset.path={out / 'low_res'}"
    )
    full = tmp_path / "full"
    res = run_cli("dataset", "import", str(tmp_path / "videos"), str(full), "--actions", "csv", "--action-spec",
                  "csgo", "--size", "8x8", "--full-res-size", "16x16")  # fmt: skip
    assert res.returncode == 0, res.stderr
    assert res.stdout.splitlines()[-1] == (
        f"train with: diamond train --config-name csgo env.path_data_low_res={full / 'low_res'} "
        f"env.path_data_full_res={full / 'full_res'}"
    )


def test_a_one_episode_discrete_import_then_info_and_verify(tmp_path):
    """No test episode (one episode, --test-fraction 0): a valid dataset everywhere; the summary says how to
    train it."""
    frames = np.random.default_rng(0).integers(0, 256, (8, 16, 16, 3), dtype=np.uint8)
    write_video(tmp_path / "videos" / "breakout.mp4", frames)
    rows = [
        {"frame": i, "action": ["NOOP", "FIRE"][i % 2], "reward": int(i == 6), "end": int(i == 7)}
        for i in range(8)
    ]
    rows[-1]["action"] = ""  # the terminal frame: no action
    write_action_log(tmp_path / "videos" / "breakout.csv", rows)
    spec = tmp_path / "breakout.json"
    spec.write_text('{"kind": "discrete", "num_actions": 4, "names": ["NOOP", "FIRE", "RIGHT", "LEFT"]}')
    out = tmp_path / "out"
    res = run_cli("dataset", "import", str(tmp_path / "videos"), str(out), "--actions", "csv", "--action-spec",
                  str(spec), "--size", "16x16", "--test-fraction", "0")  # fmt: skip
    assert res.returncode == 0, res.stderr
    lines = res.stdout.splitlines()
    assert lines[1:4] == [
        f"train: 1 episode, 7 steps -> {out / 'low_res' / 'train'}",
        f"test: 0 episodes, 0 steps -> {out / 'low_res' / 'test'}",
        "frames 16x16, actions: 4 actions",
    ]
    info = run_cli("dataset", "info", str(out))
    assert info.returncode == 0, info.stderr
    assert "low_res/train: 1 episode, 7 steps (lengths 7-7)" in info.stdout and "ends 1" in info.stdout
    assert "low_res/test: 0 episodes, 0 steps (lengths -)" in info.stdout
    verify = run_cli("dataset", "verify", str(out))
    assert verify.returncode == 0, verify.stderr
    assert (
        verify.stdout.splitlines()[-1]
        == f"{out}: every episode file is readable and consistent with its index"
    )


@pytest.mark.parametrize(
    "rows, spec, fragment",
    [
        (12, "csgo", "run1.csv: line 12: row 10 has no frame: "),
        (10, "discrete:3", "run1.csv: line 1: unknown key name 'keys'"),
        (10, "csgo", "run1.mp4: unreadable video"),
    ],
)
def test_import_errors_are_one_line_naming_the_file_and_the_row(tmp_path, rows, spec, fragment):
    make_videos(tmp_path / "videos", rows)
    if fragment.endswith("unreadable video"):
        (tmp_path / "videos" / "run1.mp4").write_bytes(b"\x00\x01" * 100)
    res = run_cli(
        "dataset",
        "import",
        str(tmp_path / "videos"),
        str(tmp_path / "out"),
        "--actions",
        "csv",
        "--action-spec",
        spec,
    )
    assert res.returncode == 2
    (line,) = res.stderr.strip().splitlines()
    assert line.startswith("diamond dataset: ") and fragment in line

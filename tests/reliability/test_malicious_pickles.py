"""Files that would run code when unpickled are refused in one line naming the file and the global; nothing runs."""

from __future__ import annotations

import builtins
import os
import pickle
from pathlib import Path

import pytest
import torch

from diamond_wm.data.episode import Episode
from diamond_wm.data.errors import DatasetError, EpisodeFileError, IndexFileError
from diamond_wm.data.published_layout import read_index
from diamond_wm.data.storage import load_pt
from diamond_wm.models.checkpoint import UnsafeCheckpointError, load_agent_state
from diamond_wm.runtime.safe_load import UnsafePickleError

MARKER_ENV = "DIAMOND_TEST_PWNED"


class SystemPayload:
    """Unpickling calls os.system (posix.system): creates the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


class CustomClassPayload:
    """A class of ours: unpickling it would import this module and run __setstate__ (creates the marker)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __setstate__(self, state):
        Path(state["marker"]).touch()


class EvalPayload:
    """Unpickling calls builtins.eval on code that creates the marker."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (builtins.eval, (f"open({str(self.marker)!r}, 'w').close()",))


class ExecPayload(EvalPayload):
    def __reduce__(self):
        return (builtins.exec, (f"open({str(self.marker)!r}, 'w').close()",))


PAYLOADS = {
    "posix.system": SystemPayload,
    f"{__name__}.CustomClassPayload": CustomClassPayload,
    "builtins.eval": EvalPayload,
    "builtins.exec": ExecPayload,
}


@pytest.fixture(params=sorted(PAYLOADS), ids=lambda g: g.rsplit(".", 1)[-1])
def payload(request):
    return request.param, PAYLOADS[request.param]


@pytest.fixture(params=["torch.save", "pickle.dump"])
def writer(request):
    def write(obj, path: Path) -> Path:
        if request.param == "torch.save":
            torch.save(obj, path)
        else:
            with open(path, "wb") as f:
                pickle.dump(obj, f)
        return path

    return write


def expected_line(path: Path, global_name: str) -> str:
    global_name = global_name.replace("posix.", f"{os.system.__module__}.")
    return (
        f"refusing to load {path}: it needs arbitrary unpickling (global {global_name}); "
        "only tensors and plain data are loaded"
    )


def test_the_payload_really_runs_when_unpickled(payload, tmp_path):
    """The payloads are real: a plain unpickler runs them (what the loaders below must never do)."""
    _, make = payload
    marker = tmp_path / "ran"
    pickle.loads(pickle.dumps({"x": make(marker)}))
    assert marker.exists()


def test_agent_checkpoint_refused(payload, writer, tmp_path):
    global_name, make = payload
    marker = tmp_path / "ran"
    path = writer({"state_dict": {}, "x": make(marker)}, tmp_path / "agent.pt")
    with pytest.raises(UnsafeCheckpointError) as info:
        load_agent_state(path)
    assert str(info.value) == expected_line(path, global_name)
    assert not marker.exists()


def test_data_files_refused(payload, writer, tmp_path):
    global_name, make = payload
    marker = tmp_path / "ran"
    path = writer({"obs": make(marker)}, tmp_path / "0.pt")
    for allow_numpy in (False, True):
        with pytest.raises(UnsafePickleError) as info:
            load_pt(path, allow_numpy=allow_numpy)
        assert str(info.value) == expected_line(path, global_name)
    with pytest.raises(EpisodeFileError) as info:
        Episode.load(path)
    message = str(info.value)
    assert message.startswith(f"episode file {path}: refusing to load it: it needs arbitrary unpickling")
    assert expected_line(path, global_name).split(": ", 1)[1] in message
    with pytest.raises(IndexFileError, match=f"{path}: refusing to load it"):
        read_index(path)
    assert not marker.exists()


def test_no_refusal_suggests_unsafe_loading(payload, writer, tmp_path):
    _, make = payload
    path = writer([make(tmp_path / "ran")], tmp_path / "x.pt")
    for load in (load_agent_state, load_pt, Episode.load, read_index):
        with pytest.raises((ValueError, DatasetError)) as info:
            load(path)
        text = str(info.value)
        assert "weights_only" not in text and "\n" not in text
        assert info.value.__cause__ is None  # torch's message (and its advice) is not chained either
    assert not (tmp_path / "ran").exists()

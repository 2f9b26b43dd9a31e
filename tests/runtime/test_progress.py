"""Progress of a phase: a bar on a terminal; in a log file or a pipe one line when it ends, no carriage returns."""

from __future__ import annotations

import io
import logging
import sys

import pytest
import torch
from torch import nn

from diamond_wm.config.trainer import OptimizerConfig
from diamond_wm.runtime.progress import Phase, on_terminal
from diamond_wm.training.component import ComponentState, train_component
from diamond_wm.training.optim import configure_optimizer


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class _Objective(nn.Module):
    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor):
        return self.model(x).square().mean(), {}


def _component() -> ComponentState:
    model = nn.Linear(2, 2)
    opt, sched = configure_optimizer(model, OptimizerConfig(), 0)
    return ComponentState("denoiser", model, _Objective(model), lambda: torch.ones(3, 2), opt, sched, 1, None)


def _lines(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "diamond_wm.runtime.progress"]


def test_on_terminal():
    assert on_terminal(_Terminal()) and not on_terminal(io.StringIO())
    closed = io.StringIO()
    closed.close()
    assert not on_terminal(closed)


def test_training_into_a_pipe_writes_one_line_per_phase_and_no_bar(monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    pipe = io.StringIO()
    monkeypatch.setattr(sys, "stderr", pipe)
    train_component(_component(), 30, show_progress=True)
    train_component(_component(), 0, show_progress=True)  # no update: no line
    assert pipe.getvalue() == ""
    [line] = _lines(caplog)
    assert line.startswith("train denoiser: 30 updates in ") and line.endswith("s")


def test_training_on_a_terminal_draws_a_bar_and_logs_no_line(monkeypatch, caplog):
    caplog.set_level(logging.INFO)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    train_component(_component(), 3, show_progress=True)
    assert "train denoiser" in terminal.getvalue() and "\r" in terminal.getvalue()
    assert _lines(caplog) == []


def test_no_progress_shows_neither(monkeypatch, capsys, caplog):
    caplog.set_level(logging.INFO)
    train_component(_component(), 3, show_progress=False)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    train_component(_component(), 3, show_progress=False)
    assert terminal.getvalue() == "" and capsys.readouterr().err == "" and _lines(caplog) == []


def test_a_phase_that_fails_logs_no_summary(caplog):
    caplog.set_level(logging.INFO)
    with pytest.raises(RuntimeError), Phase("Collect train", 10, "steps", show=True) as phase:
        phase.update(4)
        phase.summary = "4 steps"
        raise RuntimeError("env crashed")
    assert _lines(caplog) == []

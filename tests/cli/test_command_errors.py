"""`CommandErrors`: how every command ends on an error the user can fix (one line per problem, the exit code),
and, with --debug, the traceback of an error it caught."""

from __future__ import annotations

import pytest

from diamond_wm.cli import errors
from diamond_wm.models.checkpoint import CheckpointMismatchError


@pytest.fixture
def no_debug(monkeypatch):
    monkeypatch.delenv("DIAMOND_DEBUG", raising=False)
    errors.set_debug(False)
    yield
    errors.set_debug(False)


def test_fail_prints_each_line_with_the_prefix_and_returns_the_code(no_debug, capsys):
    out = errors.CommandErrors("diamond eval: error")
    assert out.fail("--episodes must be >= 1, got 0") == errors.USAGE_ERROR
    assert out.fail("a", "b", code=1) == 1
    assert capsys.readouterr().err.splitlines() == [
        "diamond eval: error: --episodes must be >= 1, got 0",
        "diamond eval: error: a",
        "diamond eval: error: b",
    ]


def test_caught_says_the_first_line_or_the_one_line_form(no_debug, capsys):
    out = errors.CommandErrors("diamond train")
    assert out.caught(ValueError("bad value\nmore detail")) == 2
    mismatch = CheckpointMismatchError(["denoiser.w"], [], [])
    assert out.caught(mismatch, code=1) == 1
    assert out.caught(ValueError("x"), "cannot resume RUN: x") == 2
    assert capsys.readouterr().err.splitlines() == [
        "diamond train: bad value",
        f"diamond train: {mismatch.one_line()}",
        "diamond train: cannot resume RUN: x",
    ]


def test_with_debug_a_caught_error_is_raised_and_nothing_printed(no_debug, capsys):
    errors.set_debug(True)
    err = ValueError("bad value")
    with pytest.raises(ValueError) as raised:
        errors.CommandErrors("diamond results").caught(err)
    assert raised.value is err and capsys.readouterr().err == ""

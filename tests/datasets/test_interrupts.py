"""A KeyboardInterrupt swallowed where Python only prints it still stops a conversion at the next check."""

from __future__ import annotations

import contextlib
import os
import signal

import pytest

from diamond_wm.conversion.interrupts import StopOnSignals


def test_a_swallowed_interrupt_is_raised_again_by_check():
    before = signal.getsignal(signal.SIGTERM)
    with StopOnSignals() as stop:
        stop.check()  # nothing yet
        with contextlib.suppress(KeyboardInterrupt):  # swallowed, as in a weakref callback
            os.kill(os.getpid(), signal.SIGTERM)
        with pytest.raises(KeyboardInterrupt, match=f"signal {int(signal.SIGTERM)}"):
            stop.check()
    assert signal.getsignal(signal.SIGTERM) is before

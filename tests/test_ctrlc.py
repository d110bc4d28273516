"""ctrlc.ctrl_c_sets: inside the block Ctrl-C (and the CLI's SIGTERM/SIGHUP) sets a flag, never raises; after
it the handlers are what they were. Real signals sent to this process (pytest runs tests in the main thread)."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from edgecolor.ctrlc import CtrlC, ctrl_c_sets

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


def _wait(event: threading.Event) -> bool:
    return event.wait(5.0)


@pytest.fixture
def python_sigint():
    """Python's own SIGINT handler in place (a shell's background job may start with it ignored)."""
    before = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, before)


@posix_only
def test_ctrl_c_sets_the_flag_and_the_handler_comes_back(python_sigint):
    notes: list[str] = []
    with ctrl_c_sets(note=notes.append) as ctrl:
        assert isinstance(ctrl, CtrlC) and ctrl.presses == 0
        os.kill(os.getpid(), signal.SIGINT)
        assert _wait(ctrl.stop) and ctrl.presses == 1 and notes == []
        os.kill(os.getpid(), signal.SIGINT)
        deadline = time.monotonic() + 5
        while ctrl.presses < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert ctrl.presses == 2 and len(notes) == 1 and "partial file" in notes[0]  # the second press is told
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    with pytest.raises(KeyboardInterrupt):  # outside the block Ctrl-C is Python's again
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(1)


@posix_only
def test_exiting_ignores_later_presses_until_the_program_ends(python_sigint):
    with ctrl_c_sets(exiting=True) as ctrl:
        os.kill(os.getpid(), signal.SIGINT)
        assert _wait(ctrl.stop)
    assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN  # no press may land in the shutdown as a traceback


@posix_only
def test_sigterm_counts_only_where_the_command_line_made_it_a_stop(python_sigint):
    """A library caller's own SIGTERM handling is left alone; the CLI's marked handler is taken over."""
    def mine(signum, frame):
        pass

    before = signal.signal(signal.SIGTERM, mine)
    try:
        with ctrl_c_sets():
            assert signal.getsignal(signal.SIGTERM) is mine
        mine.stops_like_ctrl_c = True  # what cli.app marks its handler with
        with ctrl_c_sets() as ctrl:
            os.kill(os.getpid(), signal.SIGTERM)
            assert _wait(ctrl.stop) and ctrl.presses == 1
        assert signal.getsignal(signal.SIGTERM) is mine
    finally:
        signal.signal(signal.SIGTERM, before)


def test_outside_the_main_thread_nothing_is_taken_over(python_sigint):
    seen = []

    def other() -> None:
        with ctrl_c_sets() as ctrl:
            seen.append((signal.getsignal(signal.SIGINT), ctrl.stop.is_set()))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [(signal.default_int_handler, False)]

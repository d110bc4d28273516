"""ctrlc.ctrl_c_sets: inside the block Ctrl-C (and the CLI's SIGTERM/SIGHUP) sets a flag, never raises; after
it the handlers are what they were. Real signals, sent by a fresh interpreter to itself: the test process has
native runtimes' threads loaded (OpenVINO), which a process-wide SIGINT must not be aimed at."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import default_sigint

from edgecolor.ctrlc import ctrl_c_sets

REPO = Path(__file__).resolve().parents[1]
posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX signals")


def _child(body: str) -> list[str]:
    """Run ``body`` in a new interpreter with Python's own SIGINT handler; its printed lines."""
    code = "import os, signal, sys, threading, time\nfrom edgecolor.ctrlc import CtrlC, ctrl_c_sets\n"
    code += "def wait(event):\n    assert event.wait(5.0)\n" + textwrap.dedent(body)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60,
                          preexec_fn=default_sigint)
    assert done.returncode == 0, done.stderr
    return done.stdout.splitlines()


@posix_only
def test_ctrl_c_sets_the_flag_and_the_handler_comes_back():
    lines = _child("""
        notes = []
        with ctrl_c_sets(note=notes.append) as ctrl:
            print("type", isinstance(ctrl, CtrlC), ctrl.presses)
            os.kill(os.getpid(), signal.SIGINT)
            wait(ctrl.stop)
            print("first", ctrl.presses, notes)
            os.kill(os.getpid(), signal.SIGINT)
            deadline = time.monotonic() + 5
            while ctrl.presses < 2 and time.monotonic() < deadline:
                time.sleep(0.01)
            print("second", ctrl.presses, len(notes), "partial file" in notes[0])
        print("restored", signal.getsignal(signal.SIGINT) is signal.default_int_handler)
        try:
            os.kill(os.getpid(), signal.SIGINT)
            time.sleep(2)
            print("outside: nothing")
        except KeyboardInterrupt:
            print("outside: KeyboardInterrupt")
    """)
    assert lines == ["type True 0", "first 1 []", "second 2 1 True", "restored True", "outside: KeyboardInterrupt"]


@posix_only
def test_exiting_ignores_later_presses_until_the_program_ends():
    lines = _child("""
        with ctrl_c_sets(exiting=True) as ctrl:
            os.kill(os.getpid(), signal.SIGINT)
            wait(ctrl.stop)
        print("ignored", signal.getsignal(signal.SIGINT) is signal.SIG_IGN)
        os.kill(os.getpid(), signal.SIGINT)  # lands nowhere: no traceback in the shutdown
        time.sleep(0.2)
        print("still here")
    """)
    assert lines == ["ignored True", "still here"]


@posix_only
def test_sigterm_counts_only_where_the_command_line_made_it_a_stop():
    """A library caller's own SIGTERM handling is left alone; the CLI's marked handler is taken over."""
    lines = _child("""
        def mine(signum, frame):
            print("mine got it")
        signal.signal(signal.SIGTERM, mine)
        with ctrl_c_sets():
            print("left alone", signal.getsignal(signal.SIGTERM) is mine)
        mine.stops_like_ctrl_c = True  # what cli.app marks its handler with
        with ctrl_c_sets() as ctrl:
            os.kill(os.getpid(), signal.SIGTERM)
            wait(ctrl.stop)
            print("taken over", ctrl.presses)
        print("given back", signal.getsignal(signal.SIGTERM) is mine)
    """)
    assert lines == ["left alone True", "taken over 1", "given back True"]


def test_outside_the_main_thread_nothing_is_taken_over():
    seen = []
    before = signal.getsignal(signal.SIGINT)

    def other() -> None:
        with ctrl_c_sets() as ctrl:
            seen.append((signal.getsignal(signal.SIGINT), ctrl.stop.is_set()))

    t = threading.Thread(target=other)
    t.start()
    t.join()
    assert seen == [(before, False)]

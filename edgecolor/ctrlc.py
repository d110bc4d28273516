"""Ctrl-C (and, on the command line, SIGTERM/SIGHUP) as a flag instead of KeyboardInterrupt, inside a block.

In the floor (standard library only): the video files, the video batch and the live command all finish
their current file on a stop, and a KeyboardInterrupt landing anywhere could lose a finished file.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from typing import Any


class CtrlC:
    """Ctrl-C presses seen inside ``ctrl_c_sets``; each sets the event in ``stop`` (replace it per job)."""

    def __init__(self, stop: threading.Event | None = None) -> None:
        self.presses = 0
        self.stop = stop or threading.Event()


def _stop_signals() -> list[int]:
    """The signals ``ctrl_c_sets`` takes over: SIGINT, plus SIGTERM and SIGHUP where the command line made
    them act as Ctrl-C (cli.app.stop_signals; a library caller's own handling of them is left alone)."""
    sigs = [signal.SIGINT]
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and getattr(signal.getsignal(sig), "stops_like_ctrl_c", False):
            sigs.append(sig)
    return sigs


@contextlib.contextmanager
def ctrl_c_sets(stop: threading.Event | None = None, note: Callable[[str], None] | None = None,
                exiting: bool = False) -> Iterator[CtrlC]:
    """Inside the block, Ctrl-C sets an event (``CtrlC.stop``) instead of raising KeyboardInterrupt.

    ``exiting``: the program ends after the block (a command): once Ctrl-C was pressed, further
    presses are ignored until then, so none lands in the interpreter's shutdown as a traceback.
    On the command line SIGTERM (systemd, docker stop) and SIGHUP count as Ctrl-C presses too.

    A KeyboardInterrupt can land anywhere (in a thread join, between writing and renaming) and lose
    a finished file; a flag cannot. Only in the main thread, and only when Python's own handler is
    in place (someone else's handler, e.g. an outer ``ctrl_c_sets``, is left alone).
    """
    ctrl = CtrlC(stop)
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) not in (signal.default_int_handler, signal.SIG_IGN)):
        yield ctrl
        return
    sigs = _stop_signals()
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:  # a background job: Ctrl-C cannot reach it, SIGTERM can
        sigs.remove(signal.SIGINT)
    if not sigs:
        yield ctrl
        return

    def on_stop(signum: int, frame: Any) -> None:
        ctrl.presses += 1
        ctrl.stop.set()
        if ctrl.presses == 2 and note:
            note("finishing the partial file, please wait (it stays playable)")

    before = {sig: signal.getsignal(sig) for sig in sigs}
    for sig in sigs:
        signal.signal(sig, on_stop)
    try:
        yield ctrl
    finally:
        for sig in sigs:
            signal.signal(sig, signal.SIG_IGN if exiting and ctrl.presses else before[sig])

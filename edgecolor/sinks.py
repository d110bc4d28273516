"""Sink: where stream.run sends the colorized frames (files, servers, windows), one explicit interface.

In the floor (nothing of edgecolor imported): writers.py, mjpeg.py, rtsp.py and live.py's sinks subclass
it, and stream.py calls it, without either knowing the other.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


class Sink:
    """A destination of stream.run's frames, called in frame order.

    The loop calls ``emit(result)`` with each ``stream.Result`` (``frame``: the colorized BGR frame,
    ``source``: the input frame, ``index``, ``captured``); a return of False stops the run, anything else
    goes on. By default ``emit`` hands ``write(frame)`` the colorized frame: a sink that needs only the
    picture (a file, a server) overrides ``write``. ``main_thread``: True for a sink that must run in the
    calling thread (a GUI window); the others run in the loop's writer thread.
    """

    main_thread = False

    def emit(self, result: Any) -> bool | None:
        return self.write(result.frame)

    def write(self, frame: np.ndarray) -> bool | None:
        raise NotImplementedError

    def close(self) -> None:
        """Finish (a file, a server): called by whoever made the sink, once the run is over."""

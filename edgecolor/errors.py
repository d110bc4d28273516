"""edgecolor's exceptions: one base whose message a user can act on, and a few kinds that say who failed.

Callers decide by type, never by message: an ``InputError`` (this file or array failed: unreadable,
too large, would overwrite an input, cannot be written) is counted and a batch goes on; every other
``EdgecolorError`` (a bad model, a missing backend, a bad option value) means nothing can run. The
command line maps them to exit codes in one place (``edgecolor.cli.app.exit_code``): 1 and 2.
"""


class EdgecolorError(Exception):
    """A user-facing failure, with a one-line message "<file>: <reason>" (or "<option>: <reason>")."""


class UsageError(EdgecolorError, ValueError):
    """A bad argument or option value (``size``, ``saturation``, ``quality``...): nothing can run."""


class ModelError(EdgecolorError):
    """The model file is missing, corrupt, not an edgecolor model, or gives the wrong shapes."""


class BackendError(EdgecolorError):
    """The inference runtime is unknown, not installed, or cannot run on this device."""


class InputError(EdgecolorError):
    """This input failed (missing, not a regular file, corrupt, too large, or its output is an input):
    the rest of a batch goes on."""


class OutputError(InputError):
    """This input's output could not be written (folder missing or read-only, disk full, bad format)."""

"""edgecolor's exceptions: one base whose message a user can act on, and a few kinds that say who failed.

Callers decide by type, never by message: an ``InputError`` (this file or array failed: unreadable,
too large, would overwrite an input, cannot be written) is counted and a batch goes on; every other
``EdgecolorError`` (a bad model, a missing backend, a bad option value) means nothing can run. The
command line maps them to exit codes in one place (``edgecolor.cli.app.exit_code``): 1 and 2.
Two helpers word messages: ``printable`` (one line whatever a file is called) and ``file_kind``.
"""

import stat


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


# Characters a one-line message must not carry as they are: C0/C1 controls (a newline would split
# the line, an escape sequence would recolour the terminal), line and paragraph separators, and
# the bidirectional overrides that can make a name read backwards.
_UNSAFE = {*range(0x20), *range(0x7F, 0xA0), 0x2028, 0x2029, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` safe to print as one line: controls escaped (``\\n``, ``\\x1b``, ``\\u202e``) and each byte
    of a file name that is not UTF-8 (a lone surrogate, as Python decodes it) written ``\\xff``, as
    ``ls -b`` shows it; every other character, non-ASCII letters included, is kept."""
    if text.isprintable():
        return text
    out = []
    for ch in text:
        code = ord(ch)
        if 0xDC80 <= code <= 0xDCFF:  # surrogateescape: the raw byte code - 0xDC00
            out.append(f"\\x{code - 0xDC00:02x}")
        elif ch in _NAMED:
            out.append(_NAMED[ch])
        elif code in _UNSAFE or 0xD800 <= code <= 0xDFFF:
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")
        else:
            out.append(ch)
    return "".join(out)


def file_kind(mode: int) -> str:
    """A file type (``st_mode``) in words, for messages ("not a regular file (a FIFO)")."""
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISDIR(mode):
        return "a folder"
    return "not a plain file"

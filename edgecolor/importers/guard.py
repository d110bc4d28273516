"""What `edgecolor import` accepts from a file before it allocates anything: regular files only, sizes
checked against what the file holds and against fixed limits, text read with a byte cap.

People download weights from the internet, so every file given to the importer is treated as hostile:
opened without blocking and checked to be a regular file (a FIFO or /dev/zero never hangs it), and
every count read from it is bounded here before an array of that size exists. The published files
are 129-137 MB with a few hundred tensors, well inside these limits.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from edgecolor import regular
from edgecolor.errors import ModelError

MAX_WEIGHTS_BYTES = 1 << 30  # all tensors of a state dict or Caffe model together (the published: < 140 MB)
MAX_TENSORS = 10_000  # named tensors in one file (the published: < 200)
MAX_NDIM = 8  # dimensions of one tensor (weights have 1-4)
MAX_ZIP_RATIO = 200  # uncompressed / compressed size of one zip entry (torch stores them uncompressed)
MAX_PICKLE_BYTES = 64 << 20  # the pickle of a state dict (the published: a few KB)
MAX_TEXT_BYTES = 4 << 20  # a deploy .prototxt (the published: 10 KB)
MAX_NESTING = 32  # braces deep in a .prototxt (the published: 3)
MAX_CHECK_SIDE = 1024  # a fixed ONNX input side that the import runs the graph at (the export: 256)
MAX_ELEMENTS = 1 << 27  # elements of one tensor in an imported graph at its check size (512 MB of floats)


def open_regular(path: Path, what: str = "file"):
    """``path`` opened for binary reading, refused unless it is a regular file (``regular.open_regular``:
    checked on the open file, opened without blocking, so a FIFO or a device never hangs the import)."""
    try:
        return regular.open_regular(path)
    except FileNotFoundError:
        raise ModelError(f"{path}: {what} not found") from None
    except regular.NotRegular as e:
        mode = e.mode
        kind = "a folder" if stat.S_ISDIR(mode) else "a FIFO" if stat.S_ISFIFO(mode) else "a device or socket"
        raise ModelError(f"{path}: {kind}, not a regular file; give the {what} itself") from None
    except OSError as e:
        raise ModelError(f"{path}: cannot read the {what} ({e.strerror or e})") from None


def check_regular(path: Path, what: str = "file") -> int:
    """The size of ``path`` once it is shown to be a regular file (see ``open_regular``)."""
    with open_regular(path, what) as f:
        return os.fstat(f.fileno()).st_size


def read_capped(path: Path, limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; a larger one is refused, not read."""
    with open_regular(path, what) as f:
        size = os.fstat(f.fileno()).st_size  # read() sizes its buffer by the request: ask for what is there
        data = f.read(min(size, limit) + 1)
    if len(data) > limit:
        raise ModelError(f"{path}: larger than {limit >> 20} MB; not a {what}")
    return data


def count(values, what: str) -> int:
    """The product of ``values`` as a Python int (no overflow), each a non-negative int; ValueError if not."""
    n = 1
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{what} {v!r} is negative or not an integer")
        n *= v
    return n

"""Limits that keep one photo within a small machine's memory, in one place (library and CLI read them here).

Sized for a 4 GB Raspberry Pi, measured with ``benchmarks/memory.py --huge`` (BENCHMARKS.md):
- ``DEFAULT_MAX_PIXELS``: a photo with more pixels is refused before decoding (``--max-pixels``
  raises it). The worst case measured, a 16-bit TIFF, peaks near 16 bytes per pixel, so this
  keeps it under 2 GB; an 8-bit JPEG of this size peaks near 0.6 GB.
- ``MAX_SIZE``: the largest working size (long side of what the network sees). The network's
  activations take about 300 bytes per input pixel: 2048x2048 is about 1.3 GB.
"""

DEFAULT_MAX_PIXELS = 120_000_000
MAX_SIZE = 2048

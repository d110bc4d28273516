"""Limits that keep one photo within a small machine's memory, in one place (library and CLI read them here).

Sized for a 4 GB Raspberry Pi, from peaks measured on x86-64 (BENCHMARKS.md):
- ``DEFAULT_MAX_PIXELS``: a photo with more pixels is refused from its header, before decoding
  (``--max-pixels`` / ``Colorizer(max_pixels=)`` raise it). ``benchmarks/memory.py --huge``
  measured 4.7 bytes per pixel at the peak for an 8-bit grey JPEG and 8.7 for a 16-bit grey TIFF,
  so 120 MP peaks near 0.55 and 1.0 GB plus the runtime.
- ``MAX_SIZE``: the largest working size (long side of what the network sees). At 2048 a square
  photo peaked at 1.9 GB with OpenVINO and 2.1 GB with cv2.dnn (the network's activations); the
  unbounded ``--size 8000`` took 6.5 GB on a 1x3 image.
"""

DEFAULT_MAX_PIXELS = 120_000_000
MAX_SIZE = 2048

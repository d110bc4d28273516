"""edgecolor: fast black-and-white photo and video colorization on small CPUs.

``from edgecolor import Colorizer``; the heavy parts (OpenCV, OpenVINO) load on first use, so
``import edgecolor`` and ``edgecolor --help`` stay fast.
"""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["Colorizer", "EdgecolorError", "__version__"]
TYPE_CHECKING = False  # without importing typing: it would cost more than the rest of this module

if TYPE_CHECKING:
    from edgecolor.colorizer import Colorizer
    from edgecolor.errors import EdgecolorError


def __getattr__(name: str):
    if name == "Colorizer":
        from edgecolor.colorizer import Colorizer

        return Colorizer
    if name == "EdgecolorError":
        from edgecolor.errors import EdgecolorError

        return EdgecolorError
    raise AttributeError(f"module 'edgecolor' has no attribute {name!r}")

"""Inference backends behind one interface; see ``base.Backend``. Importing this is cheap."""

from edgecolor.backends import opencv, openvino  # noqa: F401 - register the built-in backends
from edgecolor.backends.base import BACKENDS, Backend, available_backends, get_backend

__all__ = ["BACKENDS", "Backend", "available_backends", "get_backend"]

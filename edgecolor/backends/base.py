"""The backend interface: run a model file on a 1x1xHxW L tensor and return the raw 1x2xhxw output.

Backends import their runtime library inside ``__init__`` (never at module import), so listing
them, and ``import edgecolor``, stay cheap. Thread safety: ``infer`` holds a per-backend lock, so
one backend (one ``Colorizer``) shared by threads is safe but runs one frame at a time; for
parallel inference give each thread its own ``Colorizer``.
"""

from __future__ import annotations

import importlib
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from typing import ClassVar

import numpy as np

from edgecolor.contract import ModelContract
from edgecolor.errors import BackendError, ModelError
from edgecolor.options import check_hint, check_precision, check_threads

AUTO_ORDER = ("openvino", "opencv")  # `--backend auto` takes the first available

BACKENDS: dict[str, type[Backend]] = {}


def register(cls: type[Backend]) -> type[Backend]:
    BACKENDS[cls.name] = cls
    return cls


class Backend(ABC):
    """One loaded model on one runtime. Subclasses set ``name``, ``library`` and ``install``."""

    name: ClassVar[str] = ""
    library: ClassVar[str] = ""  # the module whose import decides ``available()``
    install: ClassVar[str] = ""  # how to get it, for the error message

    def __init__(
        self,
        model_path: str | Path,
        contract: ModelContract,
        device: str = "CPU",
        threads: int | None = None,
        hint: str = "LATENCY",
        precision: str = "fp32",
    ):
        self.model_path = Path(model_path)
        self.contract = contract
        self.device = str(device).upper()
        # a Colorizer's values were checked in ColorizerOptions; the same rules guard direct callers
        self.threads = check_threads(threads)
        self.hint = check_hint(hint)
        self.precision = check_precision(precision)
        self._lock = threading.Lock()

    @abstractmethod
    def infer(self, x: np.ndarray) -> np.ndarray:
        """1x1xHxW float32 network input -> 1x2xhxw float32 raw output (before ``ab_scale``)."""

    def runtime_info(self) -> dict[str, object]:
        """What the runtime really runs, which is not always what was asked for: ``inference_precision``
        ("f32", "f16", "bf16"; OpenVINO may run an f16 request as bf16 on a CPU without FP16
        arithmetic), ``threads``, ``device`` and ``shape`` ("dynamic" or "static")."""
        return {"inference_precision": "f32", "threads": self.threads, "device": self.device, "shape": "dynamic"}

    @classmethod
    def stream_threads(cls, device: str = "CPU") -> int | None:
        """Inference threads for a stream (video, live) when none were asked for; None: the runtime's choice.

        In a stream the merge of one frame overlaps the network of the next, so a runtime that can be
        held to fewer cores should leave one to it (OpenVINO does); one frame at a time (photos) keeps
        the runtime's choice."""
        return None

    @classmethod
    def available(cls) -> bool:
        """Whether the runtime library imports on this machine."""
        try:
            importlib.import_module(cls.library)
        except Exception:  # noqa: BLE001 - a broken install is as good as a missing one
            return False
        return True

    @classmethod
    def formats(cls, precision: str) -> tuple[str, ...]:
        """Model file formats this backend runs for ``precision``, best first ("onnx", "ir")."""
        return ("onnx",)

    def check_io(self, inputs: list[tuple[set[str], tuple | None]], outputs: list[tuple[set[str], tuple | None]]):
        """Refuse a model whose real I/O does not match the contract: exactly one input 1x1xHxW and
        one output 1x2xhxw, named as the metadata says. Each port is (names, dims); a dim is an
        int, or None/str when dynamic; dims None means the file does not say (then not checked)."""
        c = self.contract
        if len(inputs) != 1 or len(outputs) != 1:
            raise self.shape_error(f"has {len(inputs)} input(s) and {len(outputs)} output(s)")
        for (names, dims), want_name, channels in ((inputs[0], c.input_name, 1), (outputs[0], c.output_name, 2)):
            shown = "x".join("?" if not isinstance(d, int) else str(d) for d in dims or ())
            fixed_batch = dims is not None and len(dims) == 4 and isinstance(dims[0], int) and dims[0] != 1
            if dims is not None and (len(dims) != 4 or dims[1] != channels or fixed_batch):
                raise self.shape_error(f"is {shown} for '{sorted(names)[0] if names else '?'}'")
            if want_name not in names:
                raise self.shape_error(f"names do not match the metadata ({', '.join(sorted(names))} is not "
                                       f"'{want_name}')")

    def shape_error(self, detail: str) -> ModelError:
        c = self.contract
        return ModelError(
            f"{self.model_path}: model input/output shape {detail}; expected input '{c.input_name}' 1x1xHxW and "
            f"output '{c.output_name}' 1x2x(H/{c.output_stride})x(W/{c.output_stride})"
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.model_path)!r}, device={self.device!r})"


def get_backend(name: str, check: bool = True) -> type[Backend]:
    """The backend class for ``name`` ("auto" = OpenVINO when it imports, else OpenCV).

    With ``check``, a backend whose library is missing is an EdgecolorError saying how to install it.
    """
    import edgecolor.backends  # noqa: F401 - registers the built-in backends

    key = str(name).lower()
    if key == "auto":
        for candidate in AUTO_ORDER:
            if BACKENDS[candidate].available():
                return BACKENDS[candidate]
        raise BackendError("no backend available: install openvino or opencv-python-headless")
    if key not in BACKENDS:
        raise BackendError(f"unknown backend {name!r} (choose from auto, {', '.join(sorted(BACKENDS))})")
    cls = BACKENDS[key]
    if check and not cls.available():
        raise BackendError(f"backend {cls.name!r} is not installed ({cls.install})")
    return cls


def available_backends() -> list[str]:
    import edgecolor.backends  # noqa: F401

    return [n for n in sorted(BACKENDS) if BACKENDS[n].available()]

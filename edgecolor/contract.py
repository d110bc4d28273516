"""The model contract: how to feed a model and read its output, stored inside the model file.

The tools write it as ONNX ``metadata_props`` (OpenVINO exposes those as ``rt_info['framework']``
and keeps them when converting to IR), so one reader serves ONNX and IR alike; the runtime never
hard-codes sizes or scaling.
"""

from __future__ import annotations

import threading
from dataclasses import MISSING, asdict, dataclass, fields
from pathlib import Path

from edgecolor.errors import ModelError
from edgecolor.limits import MAX_SIZE

# OpenVINO's model reading (an ONNX file, also inside compile_model(path)) sets the process locale and puts it
# back; two at once (stream workers, serve's pool) can leave it at "C" for good, and Python then decodes text as
# ASCII in the whole process. Reads and compiles are rare (a load, one static shape): one at a time, here and
# in backends/openvino.py.
OPENVINO_LOAD_LOCK = threading.Lock()

PREFIX = "edgecolor."
CONTRACT_VERSION = 1
RT_INFO_SECTION = "framework"
PRECISIONS = ("fp32", "fp16", "int8")
# Bounds a model's own numbers must keep. A network input side is at least two size multiples and a
# panorama's long side at most four working sizes, so with these the input never exceeds MAX_SIZE² pixels
# (a contract saying size_multiple=2048 made a 160x120 photo ask for 10 GB). The scales leave any
# sensible normalisation room (ECCV16's is 1/100 and 110) while refusing ones that overflow float32.
MAX_SIZE_MULTIPLE = MAX_SIZE // 8
MAX_SCALE = 1e4
# edgecolor's own networks (tools.train, tools.export) take L (0..100) as L * L_SCALE + L_SHIFT, in -1..1: the
# contract's defaults, and the one place the tools and the pipeline read these numbers from.
L_SCALE = 0.02
L_SHIFT = -1.0


@dataclass(frozen=True)
class ModelContract:
    """What a model promises. The network input is ``L * l_scale + l_shift`` (L in 0..100)."""

    name: str
    version: str
    precision: str
    input_name: str
    output_name: str
    input_layout: str = "NCHW"
    color_space: str = "CIELAB-D65-OpenCV"
    l_scale: float = L_SCALE
    l_shift: float = L_SHIFT
    ab_scale: float = 1.0
    size_multiple: int = 32
    working_size: int = 256  # preferred long side of the network input, in pixels
    output_stride: int = 4  # the ab output is input size / output_stride
    # How the network takes user colour hints; "" for none. "ab/110+mask:empty": it was trained with an ab
    # hint channel pair (ab / 110) and a mask channel, and this file feeds them empty (automatic mode).
    hints: str = ""
    contract: int = CONTRACT_VERSION

    def to_metadata(self) -> dict[str, str]:
        """Flat string map, ready for ONNX metadata_props or OpenVINO rt_info."""
        return {PREFIX + k: str(v) for k, v in asdict(self).items()}

    @classmethod
    def from_metadata(cls, meta: dict[str, str], source: str = "model") -> ModelContract:
        """Parse and validate; a missing or malformed key is a clear EdgecolorError."""
        if PREFIX + "contract" not in meta:
            raise ModelError(f"{source}: not an edgecolor model (no '{PREFIX}contract' metadata)")
        values = {}
        for f in fields(cls):
            key = PREFIX + f.name
            if key not in meta:
                if f.default is not MISSING:
                    continue
                raise ModelError(f"{source}: model metadata lacks '{key}'")
            raw = meta[key]
            try:
                values[f.name] = _parse(f.type, raw)
            except ValueError:
                raise ModelError(f"{source}: model metadata '{key}' has a bad value {raw!r}") from None
        c = cls(**values)
        c.validate(source)
        return c

    def validate(self, source: str = "model") -> None:
        if self.contract > CONTRACT_VERSION:
            raise ModelError(f"{source}: contract version {self.contract} is newer than this edgecolor reads")
        if self.precision not in PRECISIONS:
            raise ModelError(f"{source}: unknown precision {self.precision!r}")
        if self.input_layout != "NCHW":
            raise ModelError(f"{source}: input layout {self.input_layout!r} is not supported (NCHW only)")
        if self.size_multiple < 1 or self.working_size < self.size_multiple or self.output_stride < 1:
            raise ModelError(f"{source}: inconsistent sizes in model metadata")
        if self.size_multiple % self.output_stride:
            raise ModelError(f"{source}: size_multiple must be a multiple of output_stride")
        if self.size_multiple > MAX_SIZE_MULTIPLE:
            raise ModelError(f"{source}: model metadata 'edgecolor.size_multiple' is {self.size_multiple}, "
                             f"above the limit of {MAX_SIZE_MULTIPLE}")
        if self.working_size > MAX_SIZE:
            raise ModelError(f"{source}: model metadata 'edgecolor.working_size' is {self.working_size}, "
                             f"above the limit of {MAX_SIZE}")
        positive = "a positive number up to 1e4"
        for name, ok, want in (
            ("l_scale", 0 < self.l_scale <= MAX_SCALE, positive),  # 0 would divide by zero, < 0 invert L
            ("ab_scale", 0 < self.ab_scale <= MAX_SCALE, positive),
            ("l_shift", -MAX_SCALE <= self.l_shift <= MAX_SCALE, "a number within -1e4..1e4"),
        ):
            if not ok:  # NaN fails every comparison, so it lands here too
                raise ModelError(f"{source}: model metadata '{PREFIX}{name}' is {getattr(self, name)!r}; "
                                 f"it must be {want}")


def _parse(type_name: str | type, raw: str):
    t = type_name if isinstance(type_name, str) else type_name.__name__
    if t == "int":
        return int(raw)
    if t == "float":
        return float(raw)
    return str(raw)


def read_metadata(path: str | Path) -> dict[str, str]:
    """The edgecolor keys of an ONNX or IR (.xml) model, read through OpenVINO's model reader."""
    import openvino as ov

    with OPENVINO_LOAD_LOCK:
        model = ov.Core().read_model(str(path))
    return metadata_of(model)


def metadata_of(model) -> dict[str, str]:
    """The edgecolor keys in an already-read ``openvino.Model``."""
    if not model.has_rt_info([RT_INFO_SECTION]):
        return {}
    section = model.get_rt_info([RT_INFO_SECTION]).astype(dict)
    return {k: model.get_rt_info([RT_INFO_SECTION, k]).astype(str) for k in section if k.startswith(PREFIX)}

"""OpenVINO backend: ONNX or IR models on CPU, GPU, NPU or AUTO.

The model is compiled once with dynamic H and W, so photos of any size run without recompiling.
A shape that repeats (video frames, a camera) gets its own static compilation after
``SPECIALIZE_AFTER`` frames: a static shape ran ~10% faster on the CPU plugin here (a lite0-sized
net at 256x192: 8.2 vs 9.0 ms, 10th percentile), but one compile per photo shape would cost more
than it saves. Compiled models are cached on disk (``CACHE_DIR``) to cut cold start. Thread
safety: one InferRequest per backend, behind a lock (see ``base``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from edgecolor.backends.base import Backend, register
from edgecolor.contract import OPENVINO_LOAD_LOCK
from edgecolor.errors import BackendError, ModelError

ENV_CACHE_DIR = "EDGECOLOR_CACHE_DIR"
DEFAULT_CACHE_DIR = Path("~/.cache/edgecolor/openvino")
VIRTUAL_DEVICES = ("AUTO", "MULTI", "HETERO", "BATCH")


@register
class OpenVINOBackend(Backend):
    """``device``: CPU, GPU, NPU, AUTO (or GPU.1 ...); ``hint``: LATENCY or THROUGHPUT; inference
    precision is asked for explicitly (f32, or f16 when ``precision == "fp16"``) because OpenVINO
    on ARM CPUs otherwise defaults to f16. ``threads`` None: the runtime's choice (every core); streams
    ask for ``stream_threads`` instead, leaving a core to the colour work around the network."""

    name = "openvino"
    library = "openvino"
    install = "pip install openvino"
    SPECIALIZE_AFTER = 3  # same-shape frames before a static compile; 0 = dynamic only

    @classmethod
    def formats(cls, precision: str) -> tuple[str, ...]:
        return ("onnx", "ir") if precision == "fp32" else ("ir", "onnx")

    def __init__(self, model_path, contract, device="CPU", threads=None, hint="LATENCY", precision="fp32"):
        super().__init__(model_path, contract, device, threads, hint, precision)
        import openvino as ov

        self._core = ov.Core()
        self.cache_dir = cache_dir()
        if self.cache_dir is not None:
            self._core.set_property({"CACHE_DIR": str(self.cache_dir)})
        self._check_device()
        self._config = self._make_config()
        # Compiling straight from the file lets a cache hit skip reading the model (~0.2 s of cold
        # start for the default model); the ov.Model is read only when a shape needs it.
        compiled = self._compile(str(self.model_path))
        self._validate(compiled)
        self._model = None
        if compiled.input(0).get_partial_shape().is_static:  # a static IR: free H and W if it can
            model = self._read_model()
            try:
                model.reshape({model.input(0): [1, 1, -1, -1]})
                compiled = self._compile(model)
            except Exception:  # noqa: BLE001 - keep it static; every new shape then recompiles
                compiled = None
        self._dynamic = compiled.create_infer_request() if compiled is not None else None
        self._static: dict[tuple[int, ...], object] = {}
        self._last_shape: tuple[int, ...] | None = None
        self._repeats = 0

    def _read_model(self):
        """A fresh copy of the ov.Model, for reshaping (read once, on first need)."""
        if self._model is None:
            try:
                with OPENVINO_LOAD_LOCK:  # the locale: see contract.OPENVINO_LOAD_LOCK
                    self._model = self._core.read_model(str(self.model_path))
            except Exception as e:  # noqa: BLE001
                raise ModelError(f"{self.model_path}: OpenVINO cannot read this model ({_short(e)})") from None
        return self._model.clone()

    def _validate(self, model) -> None:
        def port(p) -> tuple[set[str], tuple | None]:
            ps = p.get_partial_shape()
            if ps.rank.is_dynamic:
                return set(p.get_names()), ("?",)  # a model of unknown rank cannot be checked: refuse
            return set(p.get_names()), tuple(d.get_length() if d.is_static else None for d in ps)

        self.check_io([port(p) for p in model.inputs], [port(p) for p in model.outputs])

    def _check_device(self) -> None:
        base = self.device.split(":")[0]
        # Listing the available devices loads every device plugin (GPU and NPU: ~50 MB of resident
        # memory on a machine that has neither); the CPU plugin always ships, so CPU skips the list.
        if base in VIRTUAL_DEVICES or self.device.split(".")[0] == "CPU":
            return
        available = list(self._core.available_devices)
        if not any(d == self.device or d.split(".")[0] == self.device for d in available):
            raise BackendError(
                f"OpenVINO device {self.device!r} is not available here (available: {', '.join(available) or 'none'})"
            )

    def _make_config(self) -> dict:
        config = {
            "PERFORMANCE_HINT": self.hint,
            "INFERENCE_PRECISION_HINT": "f16" if self.precision == "fp16" else "f32",
        }
        if self.threads is not None:
            config["INFERENCE_NUM_THREADS"] = self.threads
        if self.device.split(":")[0] not in VIRTUAL_DEVICES:
            try:  # GPU has no thread count, NPU may lack a precision hint: pass what the device takes
                supported = self._core.get_property(self.device, "SUPPORTED_PROPERTIES")
                config = {k: v for k, v in config.items() if k in supported}
            except Exception:  # noqa: BLE001
                pass
        return config

    def _compile(self, model):
        """Compile an ov.Model or a model file for the device (a file: read errors land here too)."""
        try:
            with OPENVINO_LOAD_LOCK:  # the locale: see contract.OPENVINO_LOAD_LOCK
                return self._core.compile_model(model, self.device, self._config)
        except Exception as e:  # noqa: BLE001 - OpenVINO raises RuntimeError and friends
            raise ModelError(
                f"{self.model_path}: OpenVINO cannot load this model for {self.device} ({_short(e)})"
            ) from None

    def _request_for(self, shape: tuple[int, ...]):
        """The InferRequest for this input shape (called under the lock)."""
        self._repeats = self._repeats + 1 if shape == self._last_shape else 1
        self._last_shape = shape
        if shape in self._static:
            return self._static[shape]
        if self._dynamic is not None and not (self.SPECIALIZE_AFTER and self._repeats >= self.SPECIALIZE_AFTER):
            return self._dynamic
        model = self._read_model()
        try:
            model.reshape({model.input(0): list(shape)})
        except Exception as e:  # noqa: BLE001
            raise self.shape_error(f"cannot take a {'x'.join(map(str, shape))} input ({_short(e)})") from None
        if len(self._static) >= 2:
            self._static.pop(next(iter(self._static)))
        self._static[shape] = self._compile(model).create_infer_request()
        return self._static[shape]

    def runtime_info(self) -> dict[str, object]:
        """Read back from the compiled model in use (the static one of the last shape, else the dynamic
        one): the precision it computes in (f16 asked for may run as bf16, f32 as bf16 on AMX CPUs)."""
        with self._lock:
            requests = [self._static[self._last_shape]] if self._last_shape in self._static else []
            requests.append(self._dynamic)
        compiled = next(r for r in requests if r is not None).get_compiled_model()
        facts: dict[str, object] = {"inference_precision": "", "threads": None, "device": self.device,
                                    "shape": "static" if requests[0] is not self._dynamic else "dynamic"}
        try:
            facts["inference_precision"] = type_name(compiled.get_property("INFERENCE_PRECISION_HINT"))
            facts["threads"] = int(compiled.get_property("INFERENCE_NUM_THREADS"))
        except Exception:  # noqa: BLE001 - a device without these properties (GPU, NPU)
            pass
        return facts

    @property
    def specialized_shapes(self) -> list[tuple[int, ...]]:
        return list(self._static)

    @classmethod
    def stream_threads(cls, device: str = "CPU") -> int | None:
        """On a CPU, one core fewer than this process may use (None, the runtime's choice, on one core or
        another device).

        Why: in `video` and `live` the merge of one frame (OpenCV) overlaps the network of the next, and
        the runtime's idle threads keep spinning into it. On the 2-core reference machine (issue 19,
        BENCHMARKS.md, alternating rounds in one run) the stream loop ran 720p at 162 against 146 fps and
        1080p at 130 against 114 fps; one frame at a time the network on one core is the slower (480p:
        7.5 against 4.2 ms, INT8), so photos keep every core.
        """
        if device.split(".")[0].upper() != "CPU":
            return None
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        return cores - 1 if cores > 1 else None

    def infer(self, x: np.ndarray) -> np.ndarray:
        x = np.ascontiguousarray(x, dtype=np.float32)
        with self._lock:
            request = self._request_for(tuple(x.shape))
            try:
                request.infer({0: x}, share_inputs=True)
            except Exception as e:  # noqa: BLE001
                raise BackendError(f"{self.model_path}: inference failed ({_short(e)})") from None
            return request.get_output_tensor(0).data.copy()


def type_name(value: object) -> str:
    """An OpenVINO element type as its short name ("f32", "f16", "bf16"), whatever form the property takes."""
    name = value.get_type_name() if hasattr(value, "get_type_name") else str(value)
    return {"float32": "f32", "float16": "f16", "bfloat16": "bf16"}.get(name.lower(), name.lower())


def precisions_that_run(device: str = "CPU") -> dict[str, str]:
    """What ``--precision fp32`` and ``fp16`` really compute in on ``device``: a one-op model is compiled
    with each hint and the hint read back (e.g. {"fp32": "f32", "fp16": "bf16"} on an AVX-512 BF16 CPU
    without FP16 arithmetic). Empty when the device cannot say."""
    import openvino as ov
    from openvino import opset8 as ops

    core = ov.Core()
    x = ops.parameter([1, 1, 8, 8], ov.Type.f32)
    model = ov.Model([ops.relu(x)], [x], "probe")
    out = {}
    for precision, hint in (("fp32", "f32"), ("fp16", "f16")):
        try:
            compiled = core.compile_model(model, device, {"INFERENCE_PRECISION_HINT": hint})
            out[precision] = type_name(compiled.get_property("INFERENCE_PRECISION_HINT"))
        except Exception:  # noqa: BLE001 - a device that refuses the hint or the property
            pass
    return out


def cache_dir() -> Path | None:
    """Where compiled models are cached: $EDGECOLOR_CACHE_DIR or ~/.cache/edgecolor/openvino.

    None (no caching, silently) when it cannot be created or written, or when set to an empty string.
    """
    raw = os.environ.get(ENV_CACHE_DIR)
    if raw is not None and not raw.strip():
        return None
    folder = Path(raw).expanduser() if raw else DEFAULT_CACHE_DIR.expanduser()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError:
        return None
    return folder if os.access(folder, os.W_OK | os.X_OK) else None


def _short(e: Exception) -> str:
    """OpenVINO errors carry long C++ traces; keep the most specific line."""
    lines = [ln.strip() for ln in str(e).strip().splitlines() if ln.strip()]
    for ln in reversed(lines):
        if not ln.startswith(("Check ", "[ ", "File ", "Line ")) and "src/" not in ln:
            return ln[:300]
    return (lines[-1] if lines else type(e).__name__)[:300]

"""OpenCV DNN backend: cv2.dnn on the ONNX file, CPU only; no extra dependency beyond OpenCV."""

from __future__ import annotations

import numpy as np

from edgecolor.backends.base import Backend, register
from edgecolor.cvlog import opencv_reason, quiet_opencv
from edgecolor.errors import BackendError, ModelError


@register
class OpenCVBackend(Backend):
    """cv2.dnn with the OpenCV CPU backend. ``threads`` sets OpenCV's thread count for the whole
    process (``cv2.setNumThreads`` is global). OpenCV 5's engine (new graph engine with fallback to
    the classic one) is picked with ``ENGINE_AUTO`` when this OpenCV has it."""

    name = "opencv"
    library = "cv2.dnn"
    install = "pip install opencv-python-headless"

    def __init__(self, model_path, contract, device="CPU", threads=None, hint="LATENCY", precision="fp32"):
        super().__init__(model_path, contract, device, threads, hint, precision)
        import cv2

        path = self.model_path
        if path.suffix.lower() != ".onnx":
            raise ModelError(
                f"{path}: the opencv backend reads .onnx models only; use --backend openvino for OpenVINO IR"
            )
        if self.device != "CPU":
            raise BackendError(f"the opencv backend runs on CPU only (asked for {device}); use --backend openvino")
        if threads is not None:
            cv2.setNumThreads(threads)
        self._check_onnx_io()
        engine = getattr(cv2.dnn, "ENGINE_AUTO", None)
        try:
            data = np.fromfile(path, dtype=np.uint8)  # bytes, so any path (non-ASCII too) works
            net = cv2.dnn.readNetFromONNX(data) if engine is None else cv2.dnn.readNetFromONNX(data, engine)
        except OSError as e:
            raise ModelError(f"{path}: cannot read model file ({e.strerror or e})") from None
        except cv2.error as e:
            raise ModelError(f"{path}: OpenCV cannot load this model ({opencv_reason(e)})") from None
        if net.empty():
            raise ModelError(f"{path}: OpenCV loaded an empty network (corrupt or unsupported model)")
        with quiet_opencv():  # the new engine warns that it ignores targets; CPU is what we want
            net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)
        self._net = net
        self._error = cv2.error
        self._probe()

    def _check_onnx_io(self) -> None:
        """cv2.dnn does not report the model's inputs and outputs (and its new engine runs a model
        fed the wrong channel count without complaint), so read them from the file."""
        from edgecolor.modelfile import onnx_io

        try:
            inputs, outputs = onnx_io(self.model_path)
        except OSError as e:
            raise ModelError(f"{self.model_path}: cannot read model file ({e.strerror or e})") from None
        except ValueError as e:
            raise ModelError(f"{self.model_path}: OpenCV cannot load this model (corrupt: {e})") from None
        self.check_io([({n}, d) for n, d in inputs], [({n}, d) for n, d in outputs])

    def _probe(self) -> None:
        """Run the smallest valid input once: cv2.dnn does not expose the model's I/O shapes, and a
        wrong model should fail here with a clear message, not on the first photo."""
        m, s = self.contract.size_multiple, self.contract.output_stride
        try:
            out = self._run(np.zeros((1, 1, m, m), np.float32))
        except self._error as e:
            raise self.shape_error(f"does not fit: {opencv_reason(e)}") from None
        if out.shape != (1, 2, m // s, m // s):
            raise self.shape_error(f"gives {'x'.join(map(str, out.shape))} for a 1x1x{m}x{m} input")

    def _run(self, x: np.ndarray) -> np.ndarray:
        with self._lock:
            self._net.setInput(x, self.contract.input_name)
            return self._net.forward(self.contract.output_name)

    def runtime_info(self) -> dict[str, object]:
        """cv2.dnn's CPU target computes in f32 whatever the model's precision; threads are OpenCV's."""
        import cv2

        return {"inference_precision": "f32", "threads": cv2.getNumThreads(), "device": "CPU", "shape": "dynamic"}

    def infer(self, x: np.ndarray) -> np.ndarray:
        try:
            return self._run(x)
        except self._error as e:
            raise BackendError(f"{self.model_path}: inference failed ({opencv_reason(e)})") from None


"""The Python API: one object that loads a model once and colorizes many images."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from edgecolor import pipeline
from edgecolor.errors import InputError, ModelError, UsageError
from edgecolor.limits import DEFAULT_MAX_PIXELS
from edgecolor.options import ColorizerOptions

MAX_AB = 1000.0  # a predicted |a| or |b| above this is no colour (CIELAB's own range is about +-128)


class ColourInputWarning(UserWarning):
    """The input already has colour; it is colorized from its L (its own colour is discarded)."""


class Colorizer:
    """Colorize black-and-white photos with a bundled or given model.

    Example::

        from edgecolor import Colorizer
        c = Colorizer(model="default", backend="openvino", precision="int8")
        out = c.colorize(cv2.imread("old.jpg"))    # BGR uint8 in, BGR uint8 out, same size

    ``model``: a bundled model name, "default", or an .onnx/.xml file (used as is; its metadata
    gives its precision). ``backend``: "auto" (OpenVINO when installed, else OpenCV), "openvino" or
    "opencv". ``precision``: fp32, fp16 or int8, among the variants the model ships with.
    ``device``: OpenVINO device (CPU, GPU, NPU, AUTO). ``threads``: inference threads.
    ``size``: working resolution (long side fed to the network; default: the model's).
    ``saturation``: chroma gain (1 = as predicted, 0 = grey). ``hint``: OpenVINO LATENCY/THROUGHPUT.
    ``guided``: edge-aware upsampling of the colour (follows the photo's own edges, no bleeding);
    False gives plain bilinear upsampling.
    ``max_pixels``: ``colorize_file`` refuses a photo whose header states more pixels (None: no
    limit; default ``limits.DEFAULT_MAX_PIXELS``, sized for a 4 GB Raspberry Pi).
    ``quality``: "fast" (one network pass; live and video) or "photo" (the prediction averaged with
    the one for the mirrored photo: two passes, steadier colour, for stills).
    The keywords become a ``ColorizerOptions`` (checked once; ``c.options``); ``from_options`` takes one made earlier.

    Reuse one instance across frames. Thread safety: ``colorize`` may be called from several
    threads on one instance (inference is serialised by a lock); for parallel throughput, create
    one ``Colorizer`` per thread.
    """

    def __init__(
        self,
        model: str | os.PathLike = "default",
        backend: str = "auto",
        precision: str = "fp32",
        device: str = "CPU",
        threads: int | None = None,
        size: int | None = None,
        saturation: float = 1.0,
        hint: str = "LATENCY",
        guided: bool = True,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        quality: str = "fast",
    ):
        # checked here, once, before loading anything: a bad value costs nothing
        self._load(ColorizerOptions(model=model, backend=backend, precision=precision, device=device, threads=threads,
                                    size=size, saturation=saturation, hint=hint, guided=guided,
                                    max_pixels=max_pixels, quality=quality))

    @classmethod
    def from_options(cls, options: ColorizerOptions) -> Colorizer:
        """A Colorizer made from options checked earlier (the CLI, a batch, a Ray worker).

        Example::

            opts = ColorizerOptions(precision="int8", saturation=1.2)
            c = Colorizer.from_options(opts)
        """
        if not isinstance(options, ColorizerOptions):
            raise UsageError(f"from_options needs a ColorizerOptions, got {type(options).__name__}")
        self = cls.__new__(cls)
        self._load(options)
        return self

    def _load(self, options: ColorizerOptions) -> None:
        from edgecolor import models
        from edgecolor.backends import get_backend

        self.options = options
        backend_cls = get_backend(options.backend)
        self.model_path: Path = models.resolve(options.model, options.precision, backend_cls.name)
        self.contract = models.read_contract(self.model_path)
        # a model file is used as is: its own precision counts, not the (default) argument
        self.precision: str = self.contract.precision if models.is_model_path(options.model) else options.precision
        self.backend = backend_cls(self.model_path, self.contract, device=options.device, threads=options.threads,
                                   hint=options.hint, precision=self.precision)
        self._warned_colour = False

    @property
    def size(self) -> int | None:
        return self.options.size

    @property
    def saturation(self) -> float:
        return self.options.saturation

    @property
    def guided(self) -> bool:
        return self.options.guided

    @property
    def max_pixels(self) -> int | None:
        return self.options.max_pixels

    @property
    def backend_name(self) -> str:
        return self.backend.name

    def colorize(self, image: np.ndarray) -> np.ndarray:
        """HxW gray, HxWx3 BGR or HxWx4 BGRA, uint8 or uint16 (or float32 0..1) -> same size and
        dtype, BGR (BGRA when given BGRA, alpha kept). A colour input is colorized from its L
        (warned once per instance with ``ColourInputWarning``).

        Example::

            c = Colorizer()
            grey = cv2.imread("old.jpg", cv2.IMREAD_GRAYSCALE)
            cv2.imwrite("new.jpg", c.colorize(grey))
        """
        p = self.prepare(image)
        if not self._warned_colour and p.chroma > pipeline.COLOUR_CHROMA:
            self._warned_colour = True
            warnings.warn(
                "input is already a colour image: it is colorized from its lightness, its own colours are replaced",
                ColourInputWarning,
                stacklevel=2,
            )
        return self.merge(p, self.predict_ab(p))

    def colorize_file(self, src: str | os.PathLike, dst: str | os.PathLike, quality: int | None = None,
                      make_folder: bool = False) -> bool:
        """Colorize one photo file into ``dst`` (format by extension, written atomically); True when
        the input was already a colour photo (colorized from its lightness).

        Unlike ``read_image`` + ``colorize`` + ``write_image_atomic``, each full-size plane is dropped
        as soon as it is used (a colour input after its L is taken, L and the input before encoding),
        so the encoder never runs beside them (12 MB less at the peak of a 12 MP JPEG, measured in
        benchmarks/memory.py). Errors are EdgecolorError naming
        the file; ``dst`` is never left half-written. ``make_folder``: create dst's folder when
        missing, just before writing (so a failure leaves no empty folder).

        Example::

            c = Colorizer()
            c.colorize_file("grandma-1931.tif", "grandma-1931-colour.png")
        """
        from edgecolor.files import JPEG_QUALITY, read_image, same_file, write_image_atomic

        if same_file(src, dst):
            raise InputError(f"{dst}: the output is the input itself; write the colorized copy elsewhere")
        image = read_image(src, self.max_pixels)
        prepared = self.prepare(image)
        del image  # colour input: freed now; grey input: still held by ``prepared`` for the merge
        out = self.merge(prepared, self.predict_ab(prepared))
        colour = prepared.chroma > pipeline.COLOUR_CHROMA
        del prepared
        write_image_atomic(dst, out, JPEG_QUALITY if quality is None else quality, make_folder=make_folder)
        return colour

    def prepare(self, image: np.ndarray) -> pipeline.Prepared:
        """Full-resolution L and the network tensor at the working size.

        Example::

            p = c.prepare(frame)
            out = c.merge(p, c.predict_ab(p))
        """
        return pipeline.prepare(image, self.contract, self.size)

    def predict_ab(self, prepared: pipeline.Prepared) -> np.ndarray:
        """Run the network: float32 (h, w, 2) CIELAB ab at output resolution, padding removed.

        Example::

            ab = c.predict_ab(c.prepare(frame))
            print(ab.shape, float(abs(ab).mean()))
        """
        if not isinstance(prepared, pipeline.Prepared):
            raise UsageError(f"predict_ab needs what prepare() returned, got {type(prepared).__name__}")
        out = self._infer(prepared.tensor)
        if self.options.quality == "photo":  # the tensor is stretched, never padded: a flip maps it onto itself
            out = 0.5 * (out + self._infer(np.ascontiguousarray(prepared.tensor[..., ::-1]))[..., ::-1])
        h, w = prepared.ab_shape
        ab = out[0, :, :h, :w].transpose(1, 2, 0)
        if self.contract.ab_scale != 1.0:
            ab = ab * np.float32(self.contract.ab_scale)
        # A broken network (NaN weights, an overflowing conversion; cv2.dnn turns NaN into 3.4e38) is not
        # this photo's fault and would give garbage colour: CIELAB a, b lie within about +-128.
        if not float(np.abs(ab).max(initial=0.0)) <= MAX_AB:  # NaN fails the comparison too
            raise ModelError(f"{self.model_path}: the model gave NaN, infinite or out-of-range colour values")
        return np.ascontiguousarray(ab, dtype=np.float32)

    def _infer(self, tensor: np.ndarray) -> np.ndarray:
        """The network's output for one tensor, its shape checked against the contract."""
        out = self.backend.infer(tensor)
        stride = self.contract.output_stride
        want = (1, 2, tensor.shape[2] // stride, tensor.shape[3] // stride)
        if out.shape != want:
            raise self.backend.shape_error(
                f"gives {'x'.join(map(str, out.shape))} for a {'x'.join(map(str, tensor.shape))} input"
            )
        return out

    def merge(self, prepared: pipeline.Prepared, ab: np.ndarray) -> np.ndarray:
        """The full-resolution image from ab and the ORIGINAL L; ``saturation`` is applied here.

        Example::

            p = c.prepare(frame); ab = c.predict_ab(p)
            vivid = c.merge(p, ab * 1.2)
        """
        return pipeline.merge(prepared, ab, self.saturation, self.guided)

    def __repr__(self) -> str:
        return (
            f"Colorizer(model={str(self.model_path)!r}, backend={self.backend_name!r}, "
            f"precision={self.precision!r}, size={self.size}, saturation={self.saturation}, "
            f"quality={self.options.quality!r})"
        )

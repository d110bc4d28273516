"""The `edgecolor` GStreamer element: a video filter that colorizes every frame that passes through.

    ... ! videoconvert ! edgecolor ! videoconvert ! ...

A ``GstBase.BaseTransform``: GRAY8, BGR or RGB in; BGR or RGB out (RGB in gives RGB out when
downstream accepts both); same size, timestamps and metadata as the input frame (the base class
copies them). One frame in, one frame out, colorized in the streaming thread: the element holds
no frame back and drops none. It answers the latency query with one frame period on top of
upstream's, the time it may take per frame. When a frame takes longer than its period on a live
source it says so once (a bus warning); ``qos=true`` (the base class's property) then drops late
frames and posts QoS messages, or a ``queue leaky=downstream max-size-buffers=1`` before the
element keeps only the newest frame.

The properties are the CLI's options by the same names, checked by the same functions
(edgecolor.options; stabilize and strength make a StreamOptions): a bad value is a GStreamer error
naming it when the pipeline starts, never a traceback. They are read when the element starts (READY -> PAUSED).
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from edgecolor.errors import EdgecolorError, InputError, UsageError
from edgecolor.gst import ELEMENT
from edgecolor.gstlib import load_gi
from edgecolor.options import (
    DEFAULT_STRENGTH,
    MAX_STRENGTH,
    StreamOptions,
    check_model,
    check_precision,
    check_saturation,
    check_stabilize,
    check_strength,
)
from edgecolor.stream import StreamColorizer

_gi = load_gi("GstBase", "GstVideo")
Gst, GstBase, GstVideo, GLib, GObject = (_gi[n] for n in ("Gst", "GstBase", "GstVideo", "GLib", "GObject"))

IN_FORMATS = ("GRAY8", "BGR", "RGB")
OUT_FORMATS = ("BGR", "RGB")
_CHANNELS = {"GRAY8": 1, "BGR": 3, "RGB": 3}
WARM_UP = 2  # frames not timed for the slow-frame warning (the first runs of a network are slower)
_DROPPED_FIELDS = ("format", "colorimetry", "chroma-site")  # grey and RGB differ in these; the rest passes


def _template_caps(formats: tuple[str, ...]) -> Any:
    return Gst.Caps.from_string(f"video/x-raw, format=(string){{ {', '.join(formats)} }}, "
                                "width=(int)[ 1, 32767 ], height=(int)[ 1, 32767 ], "
                                "framerate=(fraction)[ 0/1, 2147483647/1 ]")


# property -> its check, applied when it is set (a bad value is reported when the element starts)
_CHECKS = {
    "model": check_model,
    "backend": lambda v: v if isinstance(v, str) and v else _bad_backend(v),
    "precision": check_precision,
    "saturation": check_saturation,
    "stabilize": check_stabilize,
    "strength": check_strength,
}


def _bad_backend(value: object) -> str:
    raise UsageError(f"backend must be a backend name (see `edgecolor info`) or auto, got {value!r}")


def _force_floating(obj: Any) -> None:
    """A floating reference for the C caller, beside the one the Python wrapper owns: what GStreamer expects
    of a new element (PyGObject < 3.46 leaves none; GStreamer then prints a CRITICAL on every pipeline).
    g_object_ref + g_object_force_floating, which PyGObject refuses to call."""
    import ctypes
    import ctypes.util

    get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    get_pointer.restype, get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    gobject = ctypes.CDLL(ctypes.util.find_library("gobject-2.0") or "libgobject-2.0.so.0")
    gobject.g_object_ref.argtypes = gobject.g_object_force_floating.argtypes = [ctypes.c_void_p]
    gobject.g_object_ref.restype = ctypes.c_void_p
    pointer = get_pointer(obj.__gpointer__, None)
    gobject.g_object_ref(pointer)
    gobject.g_object_force_floating(pointer)


def _row_stride(width: int, channels: int) -> int:
    """GStreamer's default row stride for packed 8-bit formats: rows padded to 4 bytes."""
    return (width * channels + 3) & ~3


class EdgecolorFilter(GstBase.BaseTransform):
    """Colorizes black-and-white video (see the module docstring)."""

    __gtype_name__ = "GstEdgecolor"
    __gstmetadata__ = (
        "edgecolor colorizer", "Filter/Effect/Video",
        "Colorizes black-and-white video on the CPU (edgecolor: OpenVINO / OpenCV DNN); one frame latency",
        "edgecolor",
    )
    __gsttemplates__ = (
        Gst.PadTemplate.new("sink", Gst.PadDirection.SINK, Gst.PadPresence.ALWAYS, _template_caps(IN_FORMATS)),
        Gst.PadTemplate.new("src", Gst.PadDirection.SRC, Gst.PadPresence.ALWAYS, _template_caps(OUT_FORMATS)),
    )
    # Wide numeric ranges on purpose: GObject would clamp an out-of-range value with a mere warning;
    # edgecolor's own checks turn it into an error instead.
    __gproperties__ = {
        "model": (str, "model", "Bundled model name, or a .onnx / .xml file", "default",
                  GObject.ParamFlags.READWRITE),
        "backend": (str, "backend", "auto, or a backend listed by `edgecolor info` (auto prefers OpenVINO)", "auto",
                    GObject.ParamFlags.READWRITE),
        "precision": (str, "precision", "Model variant to run: fp32, fp16 or int8", "fp32",
                      GObject.ParamFlags.READWRITE),
        "saturation": (float, "saturation", "Chroma gain (>= 0); 0 gives grey, >1 more vivid",
                       -GLib.MAXDOUBLE, GLib.MAXDOUBLE, 1.0, GObject.ParamFlags.READWRITE),
        "stabilize": (bool, "stabilize", "Steady colour over time (less flicker)", True,
                      GObject.ParamFlags.READWRITE),
        "strength": (float, "strength", f"Stabilization: weight of history (0..{MAX_STRENGTH})",
                     -GLib.MAXDOUBLE, GLib.MAXDOUBLE, DEFAULT_STRENGTH, GObject.ParamFlags.READWRITE),
    }

    def __init__(self) -> None:
        super().__init__()
        if not self.is_floating():
            _force_floating(self)
        self._props: dict[str, Any] = {"model": "default", "backend": "auto", "precision": "fp32",
                                       "saturation": 1.0, "stabilize": True, "strength": DEFAULT_STRENGTH}
        self._errors: dict[str, str] = {}  # property -> why its value is bad (reported at start)
        self._stream: StreamColorizer | None = None
        self._in: tuple[str, int, int] | None = None  # format, width, height
        self._out_format = "BGR"
        self._period = 0  # ns per frame from the caps (0: unknown)
        self._warned_slow = False
        self._frames = 0  # since start: the first frames include the runtime's warm-up, not a steady cost
        self._live: bool | None = None
        self.srcpad.set_query_function_full(self._src_query)

    # -- properties ------------------------------------------------------------------------------

    def do_get_property(self, prop: Any) -> Any:
        return self._props[prop.name]

    def do_set_property(self, prop: Any, value: Any) -> None:
        self._props[prop.name] = value
        try:
            _CHECKS[prop.name](value)
            self._errors.pop(prop.name, None)
        except EdgecolorError as e:  # kept for start: set_property has no way to fail
            self._errors[prop.name] = f"{ELEMENT} property {prop.name}: {e}"

    # -- life cycle ------------------------------------------------------------------------------

    def do_start(self) -> bool:
        """Load the model (READY -> PAUSED); a bad property or model is an element error, and start fails."""
        if self._errors:
            return self._fail(next(iter(self._errors.values())))
        from edgecolor.colorizer import Colorizer
        from edgecolor.options import ColorizerOptions

        p = self._props
        try:
            options = ColorizerOptions(model=p["model"], backend=p["backend"], precision=p["precision"],
                                       saturation=p["saturation"])
            stream = StreamOptions(stabilize=bool(p["stabilize"]), strength=p["strength"])
            self._stream = StreamColorizer(Colorizer.from_options(options), stabilize=stream.stabilize,
                                           strength=stream.strength)
        except EdgecolorError as e:
            return self._fail(f"{ELEMENT}: {e}")
        except Exception as e:  # noqa: BLE001 - a runtime's own failure: one error message, not a traceback
            return self._fail(f"{ELEMENT}: cannot load the model: {type(e).__name__}: {e}")
        self._warned_slow, self._live, self._frames = False, None, 0
        return True

    def do_stop(self) -> bool:
        self._stream = None
        return True

    def _fail(self, message: str) -> bool:
        self.message_full(Gst.MessageType.ERROR, Gst.ResourceError.quark(), Gst.ResourceError.SETTINGS,
                          message, None, __file__, "start", 0)
        return False

    # -- caps ------------------------------------------------------------------------------------

    def do_transform_caps(self, direction: Any, caps: Any, filter_: Any) -> Any:
        """Same size and rate; the formats of the other side, the input's own format first."""
        formats = OUT_FORMATS if direction == Gst.PadDirection.SINK else IN_FORMATS
        result = Gst.Caps.new_empty()
        for i in range(caps.get_size()):
            structure = caps.get_structure(i)
            own = structure.get_value("format") if structure.has_field("format") else None
            order = sorted(formats, key=lambda f: f != own) if isinstance(own, str) else formats
            for fmt in order:
                s = structure.copy()
                for name in _DROPPED_FIELDS:
                    s.remove_field(name)
                s.set_value("format", fmt)
                result.append_structure(s)
        result = result.simplify() if not result.is_fixed() else result
        if filter_ is not None:
            result = filter_.intersect_full(result, Gst.CapsIntersectMode.FIRST)
        return result

    def do_get_unit_size(self, caps: Any) -> tuple[bool, int]:
        """Bytes of one frame of these caps (the base class sizes output buffers by it)."""
        info = GstVideo.VideoInfo.new_from_caps(caps)
        return (info is not None, info.size if info is not None else 0)

    def do_set_caps(self, incaps: Any, outcaps: Any) -> bool:
        vin = GstVideo.VideoInfo.new_from_caps(incaps)
        vout = GstVideo.VideoInfo.new_from_caps(outcaps)
        if vin is None or vout is None:
            return False
        fin, fout = vin.finfo.name, vout.finfo.name
        if fin not in IN_FORMATS or fout not in OUT_FORMATS or (vin.width, vin.height) != (vout.width, vout.height):
            return False
        self._in, self._out_format = (fin, vin.width, vin.height), fout
        self._period = Gst.util_uint64_scale(Gst.SECOND, vin.fps_d, vin.fps_n) if vin.fps_n > 0 else 0
        return True

    # -- events and queries ----------------------------------------------------------------------

    def do_sink_event(self, event: Any) -> bool:
        """A seek (flush) or a new stream: the colours of what came before are no history for what comes next."""
        if event.type in (Gst.EventType.FLUSH_STOP, Gst.EventType.STREAM_START) and self._stream is not None:
            self._stream.reset()
        return GstBase.BaseTransform.do_sink_event(self, event)

    def _src_query(self, pad: Any, parent: Any, query: Any) -> bool:
        """Latency: upstream's plus one frame period (the most a frame may spend here in real time).
        (A pad function: PyGObject cannot override BaseTransform's query, Element has one by that name.)"""
        if query.type != Gst.QueryType.LATENCY:
            return GstBase.BaseTransform.do_query(self, Gst.PadDirection.SRC, query)
        ok = self.sinkpad.peer_query(query)
        if ok and self._period:
            live, low, high = query.parse_latency()
            query.set_latency(live, low + self._period, high + self._period if high != Gst.CLOCK_TIME_NONE else high)
        return ok

    # -- frames ----------------------------------------------------------------------------------

    def do_transform(self, inbuf: Any, outbuf: Any) -> Any:
        if self._stream is None or self._in is None:
            self._fail(f"{ELEMENT}: a frame arrived before the caps were set")
            return Gst.FlowReturn.NOT_NEGOTIATED
        started = time.perf_counter()
        try:
            colour = self._stream.process(self._read(inbuf))
            self._write(outbuf, colour)
        except Exception as e:  # noqa: BLE001 - a vfunc's exception would be a traceback and a garbage frame
            reason = str(e) if isinstance(e, EdgecolorError) else f"{type(e).__name__}: {e}"
            self.message_full(Gst.MessageType.ERROR, Gst.StreamError.quark(), Gst.StreamError.FAILED,
                              f"{ELEMENT}: {reason}", None, __file__, "transform", 0)
            return Gst.FlowReturn.ERROR
        self._say_if_slow(time.perf_counter() - started, inbuf.duration)
        return Gst.FlowReturn.OK

    def _read(self, buf: Any) -> np.ndarray:
        """The input frame as an (h, w) grey or (h, w, 3) BGR array (a copy: the buffer is unmapped after)."""
        import cv2

        fmt, width, height = self._in
        channels = _CHANNELS[fmt]
        stride = _row_stride(width, channels)
        with buf.map(Gst.MapFlags.READ) as info:
            if info.size < stride * (height - 1) + width * channels:
                raise InputError(f"a {width}x{height} {fmt} frame of {info.size} bytes is too short")
            shape = (height, width) if channels == 1 else (height, width, 3)
            strides = (stride, 1) if channels == 1 else (stride, 3, 1)
            view = np.ndarray(shape, np.uint8, buffer=info.data, strides=strides)
            frame = cv2.cvtColor(view, cv2.COLOR_RGB2BGR) if fmt == "RGB" else view.copy()
            del view  # no export of the mapped memory may outlive the map
        return frame

    def _write(self, buf: Any, colour: np.ndarray) -> None:
        import cv2

        _, width, height = self._in
        with buf.map(Gst.MapFlags.WRITE) as info:
            out = np.ndarray((height, width, 3), np.uint8, buffer=info.data, strides=(_row_stride(width, 3), 3, 1))
            if self._out_format == "RGB":
                cv2.cvtColor(colour[:, :, :3], cv2.COLOR_BGR2RGB, dst=out)
            else:
                out[...] = colour[:, :, :3]
            del out

    def _say_if_slow(self, took: float, duration: int) -> None:
        """Once per start: a live source whose frames take longer than their period here is being slowed down."""
        self._frames += 1
        period = duration if duration not in (0, Gst.CLOCK_TIME_NONE) else self._period
        if self._warned_slow or self._frames <= WARM_UP or not period or took * Gst.SECOND <= period:
            return
        if self._live is None:
            query = Gst.Query.new_latency()
            self._live = bool(self.sinkpad.peer_query(query) and query.parse_latency()[0])
        if not self._live:
            return  # a file waits for us: slow is fine
        self._warned_slow = True
        text = (f"{ELEMENT}: a frame took {took * 1000:.0f} ms, longer than its {period / 1e6:.3g} ms period: "
                "the live source is slowed down; set qos=true to drop late frames, or put "
                "'queue leaky=downstream max-size-buffers=1' before edgecolor")
        self.message_full(Gst.MessageType.WARNING, Gst.CoreError.quark(), Gst.CoreError.TOO_LAZY,
                          text, None, __file__, "transform", 0)


GObject.type_register(EdgecolorFilter)

"""The colour pipeline around the network: image -> L tensor, and predicted ab + original L -> image.

Only the working-size image reaches the network, so memory and time stay bounded for any photo.
At full size we compute just what the merge needs (the L channel, then Lab -> BGR), in row strips
for very large photos. 8-bit frames stay on OpenCV's uint8 Lab paths (L*255/100, a+128, b+128):
converting a whole frame to float would cost more than the rest of the pipeline together.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import cv2
import numpy as np

from edgecolor.contract import L_SCALE, L_SHIFT, ModelContract
from edgecolor.errors import InputError, UsageError
from edgecolor.limits import MAX_SIZE
from edgecolor.options import check_saturation, is_size

DTYPES = (np.uint8, np.uint16, np.float32)
GREY_CHECK_PIXELS = 1 << 23  # up to 4K UHD frames: the grey-frame fast path's copy stays small
DECODED_GREY_TOLERANCE = 6  # levels of chroma coding noise a decoded grey video frame may carry (decoded_grey)
STRIP_PIXELS = 1 << 19  # full-size work is done in row strips of about this many pixels
COLOUR_CHROMA = 4.0  # mean chroma (CIELAB units) above which an input counts as a colour photo
_CHROMA_SAMPLES = 32  # the chroma estimate samples about this many rows and columns
SCRATCH_PIXELS = 1 << 21  # frames up to this size reuse per-thread temporary buffers
ONE_SHOT_PIXELS = 1 << 21  # 8-bit frames up to this size (1080p) are merged whole, larger ones by strips
GRID_PIXELS = 1 << 17  # the 8-bit fast merge evaluates the colour offset at up to this many pixels, halving the frame
# (720p and 1080p: a quarter; CPU of the merge 720p 4.6 -> 3.7 ms, 1080p 7.3 -> 5.7 ms against half and a third,
# colour +0.0002 / +0.0013 dB on BSDS500 val photos upscaled to 720p / 1080p: benchmarks/fast_path_colour.py)
MIN_CELLS = 2  # network input sides of at least 2 size multiples (64 px): cv2.dnn gives wrong colours at 32 px
MAX_LONG_GROWTH = 4  # a panorama may get a network input up to 4x the working size's long side
GUIDE_RADIUS = 2  # guided upsampling: box radius in working-size pixels
GUIDE_EPS = 1e-3  # guided upsampling: regularisation on the (L/100) variance; larger is closer to bilinear
FULL_GUIDE_SCALE = 4.0  # above this full/working scale the last step is guided too (photos), below it bilinear
OFFSET_EPS = 1e-5  # the 8-bit fast merge's fit of colour offset on grey (0..1): small, so fine texture keeps its L
JBU_SIGMA_L = 8.0  # joint bilateral upsampling: L difference (0..100) at which a neighbour cell's weight is 0.6
_local = threading.local()


@dataclass
class Prepared:
    """One image ready for the network, and what the merge needs to rebuild it at full size.

    ``L`` is the full-resolution L channel: uint8 on OpenCV's 8-bit scale (L*255/100) for 8-bit
    input, float32 0..100 otherwise. A single-channel input is kept as it is (``source``) with a
    lookup table (``lut``) from grey level to L, applied strip by strip in the merge: a 12 MP photo
    then holds no second full-size plane (a 16-bit one would hold 48 MB of float L). An 8-bit BGR(A)
    frame whose colour channels are equal (up to 4K) is kept as its first channel in the same way,
    and its merge works on that grey directly (``_merge_fast8``).
    ``alpha`` is a view of the input's alpha channel (BGRA only); so both views need the input
    unchanged until the merge. ``valid`` is the network input size (h, w): the whole photo resized
    to multiples of the model's size multiple (no padding); ``ab_shape`` is the network output size,
    which is what ``merge`` expects.
    """

    tensor: np.ndarray
    source: np.ndarray
    lut: np.ndarray | None
    alpha: np.ndarray | None
    dtype: np.dtype
    channels: int
    valid: tuple[int, int]
    output_stride: int
    chroma: float
    l_scale: float = L_SCALE
    l_shift: float = L_SHIFT

    def working_l(self) -> np.ndarray:
        """L (0..100) of the network input, recovered from the tensor (no full-size work)."""
        t = self.tensor[0, 0, : self.valid[0], : self.valid[1]]
        return (t - np.float32(self.l_shift)) * np.float32(1.0 / self.l_scale)

    @property
    def shape(self) -> tuple[int, int]:
        return self.source.shape[0], self.source.shape[1]

    @property
    def L(self) -> np.ndarray:
        """The full-resolution L channel (computed on each access when ``lut`` is set)."""
        return self.l_rows(0, self.shape[0])

    def l_rows(self, y0: int, y1: int, dst: np.ndarray | None = None) -> np.ndarray:
        """Rows y0..y1 of the L channel (``dst``: where to put them, used for 8-bit lookups only)."""
        rows = self.source[y0:y1]
        return rows if self.lut is None else _look_up(rows, self.lut, dst)

    def grey_rows(self, y0: int, y1: int) -> np.ndarray:
        """Rows y0..y1 of a grey 8-bit input's own pixels (whose L is the pixel's L)."""
        if self.lut is None or self.source.dtype != np.uint8:
            raise UsageError("grey_rows needs a grey 8-bit input")
        return self.source[y0:y1]

    @property
    def ab_shape(self) -> tuple[int, int]:
        s = self.output_stride
        return -(-self.valid[0] // s), -(-self.valid[1] // s)


def check_image(image: object, source: str = "image") -> np.ndarray:
    """Validate an input array; returns it as HxW or HxWxC (an HxWx1 array is squeezed)."""
    if not isinstance(image, np.ndarray):
        raise InputError(f"{source}: expected a numpy array, got {type(image).__name__}")
    if image.dtype not in DTYPES:
        raise InputError(f"{source}: unsupported pixel type {image.dtype} (expected uint8, uint16 or float32)")
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (3, 4)):
        raise InputError(f"{source}: unsupported shape {image.shape} (expected HxW, HxWx3 BGR or HxWx4 BGRA)")
    if image.shape[0] < 1 or image.shape[1] < 1:
        raise InputError(f"{source}: empty image {image.shape}")
    if image.dtype == np.float32:  # NaN or values outside 0..1 (alpha too) would come out as garbage
        lo, hi = float(image.min()), float(image.max())
        if not (0.0 <= lo and hi <= 1.0):  # NaN fails both comparisons
            raise InputError(f"{source}: float32 values must be finite and within 0..1, got {lo:g}..{hi:g}")
    return image


def network_size(height: int, width: int, long_side: int, multiple: int) -> tuple[int, int]:
    """The network input (h, w): the photo resized so its long side is about ``long_side``, each side
    rounded to the nearest multiple of ``multiple`` (a stretch of a few per cent, which the merge undoes).

    Why not pad to the multiple: the network then sees mirrored rows and its colour near the seam
    suffers (-0.1 dB on 3:2 photos, measured). Each side is at least ``MIN_CELLS`` multiples: with
    32-px sides cv2.dnn's output differs from run to run. A panorama keeps its short side there by
    growing the long side (up to ``MAX_LONG_GROWTH`` times) rather than by a large stretch.
    """
    m, min_side = multiple, MIN_CELLS * multiple
    scale = long_side / max(height, width)
    if min(height, width) * scale < min_side:
        scale = min(min_side / min(height, width), scale * MAX_LONG_GROWTH)
    h = max(min_side, round(height * scale / m) * m)
    w = max(min_side, round(width * scale / m) * m)
    return h, w


def prepare(image: np.ndarray, contract: ModelContract, size: int | None = None,
            grey_tolerance: int = 0) -> Prepared:
    """Full-resolution L and the padded network tensor ``L * l_scale + l_shift`` (1x1xHxW float32).

    ``size`` overrides the model's preferred working size (long side in pixels), like DeOldify's
    render factor: larger keeps finer colour detail, smaller is faster. ``grey_tolerance``: an 8-bit BGR
    frame within that many levels of its luma is taken as that grey (``decoded_grey``; streams pass
    ``DECODED_GREY_TOLERANCE``, photos keep 0: exact).
    """
    image = check_image(image)
    long_side = contract.working_size if size is None else size
    if not is_size(long_side):  # the model's own, or a direct caller's (a Colorizer's was checked already)
        raise UsageError(f"working size must be an integer 1..{MAX_SIZE}, got {long_side!r}")
    channels = 1 if image.ndim == 2 else image.shape[2]
    h, w = network_size(image.shape[0], image.shape[1], int(long_side), contract.size_multiple)
    lut, source = _grey_lut(image), image
    if lut is None and (grey := _grey_channel(image, grey_tolerance)) is not None:  # a grey frame stored as BGR
        lut, source = _grey_l8(), grey
    if lut is not None:  # merge looks L up again by strips: no full-size L plane is kept
        chroma = 0.0
        small = _resize_l(_look_up(source, lut), w, h)  # from a temporary full-size L
    else:
        source, chroma = _full_l(image)
        small = _resize_l(source, w, h)
    if small.dtype == np.uint8:
        scale = contract.l_scale * 100.0 / 255.0
    else:
        scale = contract.l_scale
    small = small.astype(np.float32) * np.float32(scale) + np.float32(contract.l_shift)
    tensor = np.ascontiguousarray(small.reshape(1, 1, small.shape[0], small.shape[1]))
    alpha = image[:, :, 3] if channels == 4 else None
    return Prepared(tensor, source, lut, alpha, image.dtype, channels, (h, w), contract.output_stride, chroma,
                    contract.l_scale, contract.l_shift)


def merge(prepared: Prepared, ab: np.ndarray, saturation: float = 1.0, guided: bool = True) -> np.ndarray:
    """The full-size result: ab resized to the original size, with the ORIGINAL L, back to BGR(A).

    ``ab`` is float32 (h, w, 2) in CIELAB units. When its size is ``prepared.ab_shape`` it is the
    network output and is aligned exactly with the working image; any other size is taken to cover
    the whole image. ``saturation`` multiplies a and b (0 gives grey). ``guided``: upsample ab guided
    by L (joint bilateral upsampling, then for large photos a fast guided filter; ``_merge_guided``),
    so colour edges follow the photo's own edges instead of bleeding across them; False gives plain
    bilinear upsampling.
    Output: same height and width as the input, BGR (BGRA for BGRA input, alpha kept), same dtype.
    """
    if not isinstance(prepared, Prepared):
        raise UsageError(f"merge needs what prepare() returned, got {type(prepared).__name__}")
    try:
        ab = np.asarray(ab, dtype=np.float32)
    except (TypeError, ValueError):
        raise UsageError(f"ab must be a float (h, w, 2) array, got {type(ab).__name__}") from None
    if ab.ndim != 3 or ab.shape[2] != 2 or ab.shape[0] < 1 or ab.shape[1] < 1:
        raise UsageError(f"ab must be an (h, w, 2) array, got shape {ab.shape}")
    if not np.isfinite(ab).all():  # NaN or inf would come out as garbage colour; refused, not repaired
        raise UsageError("ab holds NaN or infinite values; give finite CIELAB a, b")
    check_saturation(saturation)  # a public function: direct callers get the Colorizer's rule
    ab = ab * np.float32(saturation) if saturation != 1.0 else ab
    if guided and ab.shape[:2] == prepared.ab_shape and min(prepared.valid) > 1:
        if prepared.dtype == np.uint8 and prepared.lut is not None and _full_scale(prepared) > FULL_GUIDE_SCALE:
            return _merge_fast8(prepared, ab)  # grey 8-bit 720p and up: camera frames, scans
        return _merge_guided(prepared, ab)
    return _merge_plain(prepared, ab)


def _full_scale(prepared: Prepared) -> float:
    """How many times the working size the full image is (the larger of the two sides' ratios)."""
    return max(prepared.shape[0] / prepared.valid[0], prepared.shape[1] / prepared.valid[1])


def _merge_fast8(prepared: Prepared, ab: np.ndarray) -> np.ndarray:
    """merge() for 8-bit output with edge-aware upsampling, without a full-size colour conversion.

    At working size: ab joint-bilaterally upsampled (as in ``_merge_guided``), the exact colour
    (float Lab -> BGR) and, per channel, its offset from the grey of the same L fitted as a linear
    function of that grey in small windows (a guided filter: offset ~ A * grey + B). The offset
    is then evaluated on the photo's own grey (a grey frame's own pixels) at up to ``GRID_PIXELS``
    (``grid_size``: 720p and 1080p at a quarter), resized bilinearly to full size as uint8 with +128
    (int16 where it does not fit: ``_biased_offset``) and added to the grey: OpenCV's
    8-bit Lab -> BGR alone cost more than this whole merge at 1080p. Where the colour is flat the
    result is the exact colour on the photo's own grey; elsewhere L stays within about a level
    (the fit is local and linear), as with OpenCV's own 8-bit conversion.
    Frames over ``ONE_SHOT_PIXELS`` go by strips, the offset evaluated at full size. Used for grey
    8-bit images over ``FULL_GUIDE_SCALE`` times the working size (720p and up), where the merge it
    replaces ran a full-size guided filter and cost ten times the network; below that the plain
    bilinear merge with OpenCV's conversion is cheaper than this one and stays.
    Every temporary is a reused buffer (``_scratch``): fresh ones cost page faults, which on some
    virtual machines cost more than the arithmetic.
    """
    slope, offset = output_coefficients(prepared, ab)
    height, width = prepared.shape
    out = np.empty((height, width, 4 if prepared.channels == 4 else 3), np.uint8)
    if height * width <= ONE_SHOT_PIXELS:
        grey = prepared.grey_rows(0, height)
        gh, gw = grid_size(height, width)
        small = grid_grey(grey, gh, gw)
        dst = out if out.shape[2] == 3 else _scratch("bgr", (height, width, 3), np.uint8)
        if (gh, gw) != (height, width) and (biased := _biased_offset(slope, offset, small)) is not None:
            up = cv2.resize(biased, (width, height), dst=_scratch("delta8", (height, width, 3), np.uint8),
                            interpolation=cv2.INTER_LINEAR)
            grey3 = cv2.merge([grey] * 3, dst=_scratch("grey3full", (height, width, 3), np.uint8))
            _store_bgr8(out, 0, cv2.addWeighted(grey3, 1.0, up, 1.0, -128.0, dst=dst), prepared)
            return out
        delta = _offset_at(slope, offset, small, cv2.CV_16S)
        if (gh, gw) != (height, width):
            delta = cv2.resize(delta, (width, height), dst=_scratch("delta", (height, width, 3), np.int16),
                               interpolation=cv2.INTER_LINEAR)
        wide = _scratch("grey1", (height, width), np.int16)
        np.copyto(wide, grey)
        grey16 = cv2.merge([wide] * 3, dst=_scratch("grey16", (height, width, 3), np.int16))
        _store_bgr8(out, 0, cv2.add(grey16, delta, dst=dst, dtype=cv2.CV_8U), prepared)
        return out
    rows = max(1, STRIP_PIXELS // width)
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        grey = prepared.grey_rows(y0, y1)
        delta = _offset_at(slope, offset, grey, cv2.CV_32F, rows=(y0, y1, height))
        grey3 = cv2.merge([grey.astype(np.float32)] * 3)
        _store_bgr8(out, y0, cv2.add(delta, grey3, dtype=cv2.CV_8U), prepared)
    return out


def grid_size(height: int, width: int) -> tuple[int, int]:
    """Where the 8-bit fast merge evaluates the colour offset: the frame halved (rounding up) until it
    has at most ``GRID_PIXELS``. Powers of two: OpenCV's 2x INTER_AREA is a fast path (at 1080p two
    halvings cost a tenth of one fractional shrink by 3)."""
    s = 1
    while -(-height // s) * -(-width // s) > GRID_PIXELS:
        s *= 2
    return -(-height // s), -(-width // s)


def grid_grey(grey: np.ndarray, gh: int, gw: int) -> np.ndarray:
    """grey box-filtered down to ``grid_size``'s (gh, gw), one halving (rounding up) at a time."""
    level = 0
    while grey.shape != (gh, gw):
        size = (-(-grey.shape[0] // 2), -(-grey.shape[1] // 2))
        grey = cv2.resize(grey, size[::-1], dst=_scratch(f"grid{level}", size, np.uint8), interpolation=cv2.INTER_AREA)
        level += 1
    return grey


def _offset_at(slope: np.ndarray, offset: np.ndarray, grey: np.ndarray, depth: int,
               rows: tuple[int, int, int] | None = None) -> np.ndarray:
    """slope * grey + offset (3 channels) at grey's size, in ``depth`` (rounded and saturated).
    ``rows``: (y0, y1, height) when grey is rows y0..y1 of an image of that height."""
    h, w = grey.shape
    y0, y1, height = rows or (0, h, h)
    shape = (h, w, 3)
    slopes = _resize_rows(slope, w, height, y0, y1, _scratch("slopes", shape, np.float32))
    offsets = _resize_rows(offset, w, height, y0, y1, _scratch("offsets", shape, np.float32))
    grey3 = cv2.merge([grey] * 3, dst=_scratch("grey3", shape, grey.dtype))  # uint8: a third of a float copy
    cv2.multiply(slopes, grey3, dst=slopes, dtype=cv2.CV_32F)
    kind = {cv2.CV_16S: np.int16, cv2.CV_8U: np.uint8}.get(depth, np.float32)
    return cv2.add(slopes, offsets, dst=_scratch(f"offset{depth}", shape, kind), dtype=depth)


def _biased_offset(slope: np.ndarray, offset: np.ndarray, grey: np.ndarray) -> np.ndarray | None:
    """The colour offset at grey's size plus 128 as uint8, or None where it leaves -127..126 (then the
    int16 path runs). Resized and added as uint8 the full-size work moves a third of the bytes of int16
    (~25% faster at 1080p); the two differ by at most a level where their resizes round apart."""
    biased = _offset_at(slope, offset + np.float32(128.0), grey, cv2.CV_8U)
    lo, hi = cv2.minMaxLoc(biased.reshape(biased.shape[0], -1))[:2]
    return biased if 0 < lo and hi < 255 else None


def _store_bgr8(out: np.ndarray, y0: int, bgr: np.ndarray, prepared: Prepared) -> None:
    """8-bit BGR rows into out (already there when written in place), alpha copied for BGRA."""
    y1 = y0 + bgr.shape[0]
    if out.shape[2] == 3:
        if not np.shares_memory(bgr, out):
            out[y0:y1] = bgr
        return
    cv2.mixChannels([bgr, np.ascontiguousarray(prepared.alpha[y0:y1])], [out[y0:y1]], [0, 0, 1, 1, 2, 2, 3, 3])


def output_coefficients(prepared: Prepared, ab: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(slope, offset), each (h, w, 3) float32 at working size: 8-bit BGR ~ grey + slope * grey + offset,
    with grey (0..255) the grey level of L. ``ab`` is the network output (float32, saturation applied).

    The offset from grey rather than the colour itself is fitted: where the working image is flat
    the fit's slope is 0 and the full-size grey's own detail passes through unchanged.
    """
    working_l = prepared.working_l()
    ab = _align(prepared, ab)
    if ab.shape[:2] != working_l.shape:
        ab = joint_bilateral_upsample(ab, working_l) if min(ab.shape[:2]) > 1 else cv2.resize(
            ab, working_l.shape[::-1], interpolation=cv2.INTER_LINEAR)
    h, w = working_l.shape
    s1, s3, f32 = (h, w), (h, w, 3), np.float32

    def tmp(name: str, shape: tuple[int, ...] = s3) -> np.ndarray:  # reused buffers: see _merge_fast8
        return _scratch("w_" + name, shape, f32)

    bgr = cv2.cvtColor(cv2.merge([working_l, ab[..., 0], ab[..., 1]], dst=tmp("lab")), cv2.COLOR_Lab2BGR,
                       dst=tmp("bgr"))
    np.clip(bgr, 0.0, 1.0, out=bgr)
    g = _grey_of_l(working_l)
    g *= f32(1.0 / 255.0)  # 0..1: the regularisation is on that scale, as in guided_coefficients
    g3 = cv2.merge([g, g, g], dst=tmp("g3"))
    offset = cv2.subtract(bgr, g3, dst=bgr)  # colour minus grey, on the 0..1 scale
    r = max(1, min(GUIDE_RADIUS, (min(h, w) - 1) // 2))
    k = (2 * r + 1, 2 * r + 1)

    def box(x: np.ndarray, name: str) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, dst=tmp(name, x.shape), borderType=cv2.BORDER_REFLECT)

    mean_g, mean_o = box(g, "mean_g"), box(offset, "mean_o")
    mean_g3 = cv2.merge([mean_g, mean_g, mean_g], dst=tmp("mean_g3"))
    cov = box(cv2.multiply(offset, g3, dst=tmp("og")), "cov")
    cov -= cv2.multiply(mean_o, mean_g3, dst=tmp("mm"))
    var = box(cv2.multiply(g, g, dst=tmp("gg", s1)), "var")
    var -= cv2.multiply(mean_g, mean_g, dst=tmp("mg2", s1))
    var += f32(OFFSET_EPS)
    slope = cv2.divide(cov, cv2.merge([var, var, var], dst=tmp("var3")), dst=cov)
    base = cv2.subtract(mean_o, cv2.multiply(slope, mean_g3, dst=tmp("am")), dst=mean_o)
    # per grey level (0..255) and on the 0..255 scale of the output: slope is unchanged, base x 255
    slope, base = box(slope, "slope"), box(base, "base")
    return _flushed(slope.copy()), _flushed(base * f32(255.0))


def _flushed(x: np.ndarray) -> np.ndarray:
    """x with subnormal values set to 0: a flat region's fit leaves some, and every later float
    operation on them (resize, multiply) runs tens of times slower on x86."""
    x[np.abs(x) < np.float32(1e-30)] = 0.0
    return x


def _grey_of_l(L: np.ndarray) -> np.ndarray:
    """The grey level (0..255, float32) of each L (0..100): OpenCV's float Lab -> BGR of (L, 0, 0),
    tabulated once and interpolated (within 1e-4 levels of the conversion; a quarter of its time)."""
    table = _grey_of_l_table()
    scale = np.float32((table.shape[1] - 1) / 100.0)
    x = cv2.multiply(L, scale, dtype=cv2.CV_32F) if L.dtype != np.float32 else L * scale
    return cv2.remap(table, x, _zeros(x.shape), cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


@functools.cache
def _grey_of_l_table(steps: int = 4096) -> np.ndarray:
    """(1, steps + 1) float32: the grey level of L = 0, 100/steps, ..., 100 (OpenCV's conversion)."""
    L = np.linspace(0.0, 100.0, steps + 1, dtype=np.float32)[None, :]
    zero = np.zeros_like(L)
    return cv2.cvtColor(cv2.merge([L, zero, zero]), cv2.COLOR_Lab2BGR)[..., 0] * np.float32(255.0)


@functools.lru_cache(maxsize=4)
def _zeros(shape: tuple[int, int]) -> np.ndarray:
    """A read-only float32 zero plane (the row coordinate of a 1-row table lookup)."""
    z = np.zeros(shape, np.float32)
    z.flags.writeable = False
    return z


def _merge_plain(prepared: Prepared, ab: np.ndarray) -> np.ndarray:
    """merge() with bilinear upsampling of ab (float32, saturation applied)."""
    if prepared.dtype == np.uint8:  # quantise while small; the full-size work then stays uint8
        ab = np.clip(ab + 128.5, 0, 255).astype(np.uint8)
    ab = _align(prepared, ab)

    def lab_of(ab_rows: np.ndarray, L_rows: np.ndarray) -> np.ndarray:
        return cv2.merge([L_rows, ab_rows], dst=_scratch("lab", (*L_rows.shape, 3), ab.dtype))

    return _merge_strips(prepared, ab, lab_of)


def _merge_strips(prepared: Prepared, small: np.ndarray, lab_of) -> np.ndarray:
    """The full-size output, strip by strip: ``small`` (anything covering the whole image) resized to
    the strip, the strip's L, ``lab_of(small_rows, L_rows)`` -> Lab rows, written in the output dtype."""
    height, width = prepared.shape
    out = np.empty((height, width, 4 if prepared.channels == 4 else 3), prepared.dtype)
    eight_bit = prepared.dtype == np.uint8
    rows = max(1, STRIP_PIXELS // width)
    for y0 in range(0, height, rows):
        y1 = min(height, y0 + rows)
        scratch = _scratch(f"field{small.shape[2]}", (y1 - y0, width, small.shape[2]), small.dtype)
        small_rows = _resize_rows(small, width, height, y0, y1, scratch)
        L_rows = prepared.l_rows(y0, y1, _scratch("L", (y1 - y0, width), np.uint8) if eight_bit else None)
        _store_rows(out, y0, lab_of(small_rows, L_rows), prepared)
    return out


def _store_rows(out: np.ndarray, y0: int, lab: np.ndarray, prepared: Prepared) -> None:
    """Lab rows (8-bit layout for 8-bit output, float otherwise) -> out[y0:...] in the output dtype, alpha kept."""
    y1 = y0 + lab.shape[0]
    if out.dtype == np.uint8:  # straight into the output: no extra full-size copy
        cv2.cvtColor(lab, cv2.COLOR_Lab2BGR, dst=out[y0:y1], dstCn=out.shape[2])
    else:
        bgr = cv2.cvtColor(lab, cv2.COLOR_Lab2BGR)
        if out.dtype == np.uint16:
            out[y0:y1, :, :3] = np.clip(bgr * np.float32(65535.0) + np.float32(0.5), 0, 65535)
        else:
            out[y0:y1, :, :3] = np.clip(bgr, 0.0, 1.0)
    if out.shape[2] == 4:
        out[y0:y1, :, 3] = prepared.alpha[y0:y1]


def _merge_guided(prepared: Prepared, ab: np.ndarray) -> np.ndarray:
    """merge() with edge-aware upsampling in two steps. Network output -> working size: joint
    bilateral upsampling (each pixel takes its bilinear neighbour cells, weighted by how close their
    L is to its own, so a cell across an edge does not lend its colour). Working -> full size, when
    the photo is over FULL_GUIDE_SCALE times the working size: a guided filter's linear coefficients
    (ab = A * L + B) fitted at working size and resized, so the photo's own full-resolution L puts
    the colour edges where its edges are; below that (video frames) plain bilinear, which blurs by
    at most that many pixels and costs a third of the time."""
    working_l = prepared.working_l()
    ab = _align(prepared, ab)
    if ab.shape[:2] != working_l.shape and min(ab.shape[:2]) > 1:
        ab = joint_bilateral_upsample(ab, working_l)
    height, width = prepared.shape
    if max(height / working_l.shape[0], width / working_l.shape[1]) <= FULL_GUIDE_SCALE:
        return _merge_plain(prepared, ab)  # ab now covers the whole image at working size
    coeffs = guided_coefficients(working_l, ab)
    eight_bit = prepared.dtype == np.uint8
    if eight_bit:  # L arrives on the 8-bit scale (L*255/100) and ab leaves with +128
        coeffs[..., :2] *= np.float32(100.0 / 255.0)
        coeffs[..., 2:] += np.float32(128.0)

    def lab_of(c: np.ndarray, L_rows: np.ndarray) -> np.ndarray:
        Lf = L_rows.astype(np.float32) if eight_bit else L_rows
        a = cv2.multiply(c[..., 0], Lf)
        b = cv2.multiply(c[..., 1], Lf)
        cv2.add(a, c[..., 2], dst=a)
        cv2.add(b, c[..., 3], dst=b)
        if eight_bit:
            return cv2.merge([L_rows, _to_u8(a), _to_u8(b)], dst=_scratch("lab", (*L_rows.shape, 3), np.uint8))
        return cv2.merge([L_rows, a, b])

    return _merge_strips(prepared, coeffs, lab_of)


def _to_u8(x: np.ndarray) -> np.ndarray:
    """float (already offset by +128) -> uint8, rounded and saturated (negatives clamped first: the
    conversion takes absolute values; cv2.max with a scalar would misread a 1x1 array)."""
    return cv2.convertScaleAbs(cv2.threshold(x, 0.0, 0.0, cv2.THRESH_TOZERO)[1])


@functools.lru_cache(maxsize=8)
def _bilinear_taps(h: int, w: int, height: int, width: int) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """For each of the 4 bilinear neighbour cells of a (height, width) pixel in an (h, w) grid: a
    nearest-neighbour remap map to that cell and its bilinear weight (cv2.resize's pixel centres)."""
    ys = (np.arange(height) + 0.5) * (h / height) - 0.5
    xs = (np.arange(width) + 0.5) * (w / width) - 0.5
    y0, x0 = np.floor(ys), np.floor(xs)
    fy, fx = ys - y0, xs - x0
    taps = []
    for dy in (0, 1):
        my = np.clip(y0 + dy, 0, h - 1).astype(np.float32)
        for dx in (0, 1):
            mx = np.clip(x0 + dx, 0, w - 1).astype(np.float32)
            m1, m2 = cv2.convertMaps(np.broadcast_to(mx[None, :], (height, width)).copy(),
                                     np.broadcast_to(my[:, None], (height, width)).copy(), cv2.CV_16SC2,
                                     nninterpolation=True)
            weight = np.outer(fy if dy else 1 - fy, fx if dx else 1 - fx).astype(np.float32)
            taps.append((m1, m2, weight))
    return taps


def joint_bilateral_upsample(ab: np.ndarray, L: np.ndarray, sigma_l: float = JBU_SIGMA_L) -> np.ndarray:
    """ab (h, w, 2) -> L's size: bilinear weights times exp(-(L - L_cell)^2 / 2 sigma^2) (Kopf et al.
    2007), with L_cell the mean L (0..100) under each ab cell."""
    height, width = L.shape
    h, w = ab.shape[:2]
    cells = cv2.merge([ab[..., 0], ab[..., 1], cv2.resize(L, (w, h), interpolation=cv2.INTER_AREA)])
    num_a = np.zeros((height, width), np.float32)
    num_b = np.zeros((height, width), np.float32)
    den = np.full((height, width), 1e-12, np.float32)
    for m1, m2, weight in _bilinear_taps(h, w, height, width):
        ta, tb, tl = cv2.split(cv2.remap(cells, m1, m2, cv2.INTER_NEAREST))
        d = cv2.subtract(L, tl)
        k = cv2.exp(cv2.multiply(d, d, scale=-0.5 / sigma_l**2))
        k = cv2.multiply(k, weight)
        cv2.accumulateProduct(ta, k, num_a)
        cv2.accumulateProduct(tb, k, num_b)
        cv2.accumulate(k, den)
    return cv2.merge([cv2.divide(num_a, den), cv2.divide(num_b, den)])


def guided_coefficients(L: np.ndarray, ab: np.ndarray, radius: int = GUIDE_RADIUS, eps: float = GUIDE_EPS):
    """(h, w, 4) float32 [A_a, A_b, B_a, B_b] at the size of ``L`` (0..100): per pixel, ab ~ A * L + B.

    ``ab`` (any smaller size covering the same image) is first resized bilinearly to L's size; the
    guided filter then fits the linear model in (2r+1)^2 windows and averages the fits (He et al.).
    """
    h, w = L.shape
    g = L * np.float32(0.01)
    p = cv2.resize(ab, (w, h), interpolation=cv2.INTER_LINEAR) if ab.shape[:2] != (h, w) else ab
    r = max(1, min(radius, (min(h, w) - 1) // 2))  # the window fits the image
    k = (2 * r + 1, 2 * r + 1)

    def box(x: np.ndarray) -> np.ndarray:
        return cv2.boxFilter(x, -1, k, borderType=cv2.BORDER_REFLECT)

    mean_i, mean_p = box(g), box(p)
    cov = box(p * g[..., None]) - mean_p * mean_i[..., None]
    var = box(g * g) - mean_i * mean_i
    a = cov / (var[..., None] + np.float32(eps))
    b = mean_p - a * mean_i[..., None]
    out = np.empty((h, w, 4), np.float32)
    out[..., :2] = box(a) * np.float32(0.01)  # per unit of L (0..100), not of I
    out[..., 2:] = box(b)
    return out


def mean_chroma(image: np.ndarray) -> float:
    """Mean CIELAB chroma of a sample of pixels: about 0 for a grey photo, 10-20 for sepia."""
    image = check_image(image)
    if image.ndim == 2:
        return 0.0
    return _chroma_of(image[_sample_index(image.shape[0]), :][:, _sample_index(image.shape[1])])


def is_colour(image: np.ndarray, threshold: float = COLOUR_CHROMA) -> bool:
    """True when the input is a colour (or toned) photo; it will be colorized from its L alone."""
    return mean_chroma(image) > threshold


# -- internals ---------------------------------------------------------------------------------


def _sample_index(n: int) -> slice:
    return slice(None, None, max(1, n // _CHROMA_SAMPLES))


def _chroma_of(sample: np.ndarray) -> float:
    """Mean chroma of a small BGR(A) sample of any supported dtype."""
    scale = {np.dtype(np.uint8): 1 / 255.0, np.dtype(np.uint16): 1 / 65535.0}.get(sample.dtype, 1.0)
    bgr = np.ascontiguousarray(sample[:, :, :3], dtype=np.float32) * np.float32(scale)
    lab = cv2.cvtColor(np.clip(bgr, 0.0, 1.0), cv2.COLOR_BGR2Lab)
    return float(np.hypot(lab[:, :, 1], lab[:, :, 2]).mean())


def _grey_lut(image: np.ndarray) -> np.ndarray | None:
    """The grey-level -> L table for a single-channel integer image, else None."""
    if image.ndim == 2 and image.dtype == np.uint8:
        return _grey_l8()
    if image.ndim == 2 and image.dtype == np.uint16:
        return _grey_l16()
    return None


def _look_up(grey: np.ndarray, lut: np.ndarray, dst: np.ndarray | None = None) -> np.ndarray:
    """L of grey levels through a ``_grey_lut`` table (``dst``: output buffer, 8-bit only)."""
    return cv2.LUT(grey, lut, dst=dst) if grey.dtype == np.uint8 else lut[grey]


def _grey_channel(image: np.ndarray, tolerance: int = 0) -> np.ndarray | None:
    """The grey of an 8-bit BGR(A) frame whose colour channels are equal, else None; with ``tolerance``,
    of a BGR frame whose channels all lie within that many levels of its luma (``decoded_grey``).

    Grey frames stored as BGR are what cameras and video decoders deliver: the check costs ~0.4 ms at
    1080p, the full Lab conversion far more, and the frame is then handled as a single-channel one (no
    full-size L plane; the merge takes its grey as it is). Only up to video frame sizes: the check makes
    a frame-sized copy, which large photos should not pay.
    """
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[0] * image.shape[1] > GREY_CHECK_PIXELS:
        return None
    if image.shape[2] == 3:  # OpenCV's luma of equal channels is that value exactly (its weights sum to 1 << 14),
        # and BGR2GRAY costs half of extractChannel (1080p: 0.21 against 0.45 ms)
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        return grey if cv2.norm(image, cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), cv2.NORM_INF) <= tolerance else None
    if tolerance:  # BGRA: exact only
        return None
    c0, c1, c2 = (cv2.extractChannel(image, i) for i in range(3))  # BGRA: alpha aside
    return c0 if cv2.norm(c0, c1, cv2.NORM_INF) == 0 and cv2.norm(c0, c2, cv2.NORM_INF) == 0 else None


def decoded_grey(frame: np.ndarray, tolerance: int = DECODED_GREY_TOLERANCE) -> np.ndarray | None:
    """The grey (OpenCV's luma) of an 8-bit BGR video frame whose channels all lie within ``tolerance``
    levels of it, else None: what ``prepare(..., grey_tolerance=tolerance)`` takes such a frame as.

    A black-and-white film decoded from YUV is not exactly grey: its chroma planes carry a few levels
    of coding noise (H.264 of a grey clip: up to 3 here), so the exact test fails and such frames took
    the full Lab path, twice the merge's time at 720p. The stream (``video``, ``live``) takes these
    frames as grey; their L moves by less than one level's worth. Photos keep the exact test (their L is
    kept bit for bit).
    """
    return _grey_channel(frame, tolerance) if frame.ndim == 3 and frame.shape[2] == 3 else None


def _full_l(image: np.ndarray) -> tuple[np.ndarray, float]:
    """Full-resolution L (uint8 8-bit scale for uint8 input, else float32 0..100) and mean chroma."""
    height, width = image.shape[:2]
    if image.ndim == 2:  # float32 (integer grey goes through _grey_lut)
        return _l_float(cv2.cvtColor(np.clip(image, 0.0, 1.0), cv2.COLOR_GRAY2BGR)), 0.0
    rows = max(1, STRIP_PIXELS // width)
    if image.dtype == np.uint8:
        if rows >= height:  # the common case: one conversion, chroma from the same Lab image
            lab = cv2.cvtColor(image, cv2.COLOR_BGR2Lab, dst=_scratch("lab", (height, width, 3), np.uint8))
            sample = lab[_sample_index(height), :][:, _sample_index(width), 1:].astype(np.float32) - 128.0
            return cv2.extractChannel(lab, 0), float(np.hypot(sample[..., 0], sample[..., 1]).mean())
        L = np.empty((height, width), np.uint8)
        for y0 in range(0, height, rows):
            L[y0:y0 + rows] = cv2.extractChannel(cv2.cvtColor(image[y0:y0 + rows], cv2.COLOR_BGR2Lab), 0)
        return L, mean_chroma(image)
    scale = 1 / 65535.0 if image.dtype == np.uint16 else 1.0
    L = np.empty((height, width), np.float32)
    for y0 in range(0, height, rows):
        strip = image[y0:y0 + rows, :, :3].astype(np.float32)
        L[y0:y0 + rows] = _l_float(strip * np.float32(scale) if scale != 1.0 else np.clip(strip, 0.0, 1.0))
    return L, mean_chroma(image)


def _l_float(bgr01: np.ndarray) -> np.ndarray:
    return cv2.extractChannel(cv2.cvtColor(bgr01, cv2.COLOR_BGR2Lab), 0)


@functools.cache
def _grey_l8() -> np.ndarray:
    """L (8-bit scale) of each grey level, exactly as OpenCV's 8-bit BGR2Lab gives it."""
    levels = np.repeat(np.arange(256, dtype=np.uint8)[:, None], 3, axis=1).reshape(256, 1, 3)
    return cv2.cvtColor(levels, cv2.COLOR_BGR2Lab)[:, 0, 0].copy()


@functools.cache
def _grey_l16() -> np.ndarray:
    """L (0..100) of each 16-bit grey level, via OpenCV's float conversion."""
    levels = np.arange(65536, dtype=np.float32) / np.float32(65535.0)
    return _l_float(np.repeat(levels[:, None], 3, axis=1).reshape(65536, 1, 3))[:, 0].copy()


def _resize_l(L: np.ndarray, w: int, h: int) -> np.ndarray:
    """L at working size: box filter down (halving first: OpenCV's 2x INTER_AREA path is twice as
    fast as a fractional one), bilinear up."""
    while L.shape[0] >= 2 * h and L.shape[1] >= 2 * w and min(L.shape) >= 4:
        L = cv2.resize(L, (L.shape[1] // 2, L.shape[0] // 2), interpolation=cv2.INTER_AREA)
    if (h, w) == L.shape[:2]:
        return L
    shrink = h <= L.shape[0] and w <= L.shape[1]
    return cv2.resize(L, (w, h), interpolation=cv2.INTER_AREA if shrink else cv2.INTER_LINEAR)


def _align(prepared: Prepared, ab: np.ndarray) -> np.ndarray:
    """ab covering exactly the valid (unpadded) working image.

    The network output has one pixel per ``output_stride`` input pixels, so when the working size
    is not a multiple of the stride the cropped output overhangs it; upsample to working size and
    crop there (cheap at this size) so the geometry is exact.
    """
    if ab.shape[:2] != prepared.ab_shape:
        return ab
    h, w = prepared.valid
    s = prepared.output_stride
    if h % s == 0 and w % s == 0:
        return ab
    up = cv2.resize(ab, (ab.shape[1] * s, ab.shape[0] * s), interpolation=cv2.INTER_LINEAR)
    return np.ascontiguousarray(up[:h, :w])


def _resize_rows(ab: np.ndarray, width: int, height: int, y0: int, y1: int, dst: np.ndarray | None = None):
    """Rows y0..y1 of ab bilinearly resized to (height, width), with cv2.resize's pixel-centre mapping
    (a strip is a warpAffine with the same mapping: ~10x slower per pixel, used for huge photos only)."""
    if y0 == 0 and y1 == height:
        return cv2.resize(ab, (width, height), dst=dst, interpolation=cv2.INTER_LINEAR)
    sx, sy = ab.shape[1] / width, ab.shape[0] / height
    m = np.array([[sx, 0.0, 0.5 * sx - 0.5], [0.0, sy, (y0 + 0.5) * sy - 0.5]])
    return cv2.warpAffine(ab, m, (width, y1 - y0), dst=dst, flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _scratch(name: str, shape: tuple[int, ...], dtype) -> np.ndarray:
    """A per-thread buffer reused across frames of the same size: fresh full-frame allocations cost
    page faults worth ~25% of the merge. Only for temporaries consumed within one call."""
    if shape[0] * shape[1] > SCRATCH_PIXELS:
        return np.empty(shape, dtype)
    buffers = _local.__dict__.setdefault("buffers", {})
    buf = buffers.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype:
        buf = buffers[name] = np.empty(shape, dtype)
    return buf

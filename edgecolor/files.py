"""Reading photos robustly and writing results atomically, with OpenCV only (no Pillow).

Files are read as bytes and decoded with ``cv2.imdecode`` (so non-ASCII paths work everywhere),
with ``IMREAD_UNCHANGED`` to keep 16-bit depth and alpha. That flag skips EXIF orientation, so
the orientation tag of JPEG (APP1) and PNG (eXIf) files is read here and applied. libjpeg
silently returns a partial image for a truncated JPEG, so a JPEG must end its image data with the
end-of-image marker (FFD9); a PNG must have its IEND chunk.
"""

from __future__ import annotations

import os
import stat
import struct
import warnings
from pathlib import Path

import cv2
import numpy as np

from edgecolor import atomic, imageheader
from edgecolor.cvlog import opencv_reason, quiet_opencv
from edgecolor.errors import InputError, OutputError, UsageError
from edgecolor.limits import DEFAULT_MAX_PIXELS
from edgecolor.options import check_max_pixels
from edgecolor.regular import NotRegular, open_regular

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp", ".webp")  # photos edgecolor reads and writes
# Every still-image suffix: also the formats OpenCV reads that edgecolor does not take as photos; never a video.
STILL_SUFFIXES = IMAGE_SUFFIXES + (".jp2", ".pgm", ".ppm", ".pbm")
JPEG_QUALITY = 95


class ImageWarning(UserWarning):
    """The file decoded, but its decoder reported damage (e.g. libjpeg's "Corrupt JPEG data")."""


def image_paths(folder: str | Path) -> list[Path]:
    """Every image file below folder, sorted; a missing or image-less folder is a clear error."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    paths = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise InputError(f"{folder}: no images found")
    return paths


_JPEG = (".jpg", ".jpeg")
_EIGHT_BIT_ONLY = (*_JPEG, ".webp", ".bmp")
_NO_ALPHA = _JPEG
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"GIF8", "GIF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"#?RADIANCE", "HDR"),
)


def read_image(path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """An image as OpenCV holds it: HxW grey, HxWx3 BGR or HxWx4 BGRA; uint8, or uint16 for 16-bit
    files. EXIF orientation is applied (upright result); palette and CMYK images come back as BGR.

    The size is read from the header first: more than ``max_pixels`` (None: no limit) is refused
    before decoding (a decompression bomb). What the decoder libraries print about a damaged file
    (libjpeg, libpng, libtiff, OpenCV) is kept off stderr: a failure's reason, else an
    ``ImageWarning``. Every failure is an InputError naming the file and the reason."""
    path = Path(path)
    return decode_image(_read_bytes(path), path, max_pixels)


def decode_image(data: bytes, path: str | os.PathLike, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """``read_image`` for bytes already in memory (an HTTP upload); ``path`` only names it in messages."""
    max_pixels = check_max_pixels(max_pixels)
    if not data:
        raise InputError(f"{path}: empty file (0 bytes)")
    kind = sniff(data)
    if kind is None:
        raise InputError(f"{path}: not an image file (unrecognised content)")
    if kind == "JPEG":
        _check_jpeg_complete(path, data)
    elif kind == "PNG" and b"IEND" not in data[-64:]:
        raise InputError(f"{path}: truncated PNG (no IEND chunk at the end)")
    dims = imageheader.size(data, kind)
    if dims is None:
        raise InputError(f"{path}: corrupt or unsupported {kind} image (no readable width and height in its header)")
    if dims[0] < 1 or dims[1] < 1:
        raise InputError(f"{path}: corrupt or unsupported {kind} image (its header says {dims[0]}x{dims[1]} pixels)")
    if max_pixels is not None and dims[0] * dims[1] > max_pixels:
        raise InputError(
            f"{path}: image too large: {dims[0]}x{dims[1]} = {dims[0] * dims[1] / 1e6:.0f} megapixels, "
            f"above the limit of {max_pixels / 1e6:.0f} (raise it with --max-pixels)"
        )
    with quiet_opencv(capture=True) as said:
        image, lines = _imdecode(data)
    if said.lines and not said.alone:  # another thread's decode printed meanwhile too: whose lines? again, alone
        with quiet_opencv(capture=True, alone=True) as said:
            image, lines = _imdecode(data)
    lines += said.lines
    if image is None or image.size == 0:
        why = f": {lines[0]}" if lines else ""
        raise InputError(f"{path}: corrupt or unsupported {kind} image (cannot decode it{why})")
    if lines:
        warnings.warn(ImageWarning(f"{path}: damaged {kind} data ({lines[0]}); decoded what could be"),
                      stacklevel=3)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 3 and image.shape[2] not in (3, 4):
        raise InputError(f"{path}: unsupported number of channels ({image.shape[2]})")
    if image.dtype not in (np.uint8, np.uint16, np.float32):
        raise InputError(f"{path}: unsupported pixel type {image.dtype}")
    if image.dtype == np.float32:  # HDR and float TIFF: bring into the 0..1 range the pipeline takes
        image = np.clip(np.nan_to_num(image), 0.0, 1.0)
    return apply_orientation(image, exif_orientation(data))


def write_image_atomic(path: str | os.PathLike, image: np.ndarray, quality: int = JPEG_QUALITY,
                       make_folder: bool = False) -> Path:
    """Encode by the file extension and write via a temporary file in the same folder + os.replace
    (``edgecolor.atomic``), so no reader (and no crash) ever sees a partial file. JPEG, WebP and BMP
    get 8 bits (16-bit input is scaled) and JPEG loses alpha; PNG and TIFF keep 16 bits and alpha. No fsync: a power
    cut may lose the newest file, never leave a torn one in its place. ``make_folder`` creates the
    missing output folder (with parents) only now, so a failure before this leaves none behind."""
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 0 <= quality <= 100:
        raise UsageError(f"quality must be an integer 0..100, got {quality!r}")
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"{path}: unsupported output format {path.suffix!r} (use {', '.join(IMAGE_SUFFIXES)})")
    folder = path.parent
    if make_folder:
        atomic.make_folder(path)
    if not folder.is_dir():
        raise OutputError(f"{path}: output folder {folder} does not exist")
    if path.is_dir():
        raise OutputError(f"{path}: is a folder")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix in _JPEG else []
    if suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    image = _encodable_for(image, suffix)
    try:
        # The encoder writes into the temporary as it goes, so the encoded file is never held in
        # memory as well (a 16-bit TIFF of 300 MP is 1.8 GB). A name OpenCV cannot take (Windows:
        # its file names are ANSI; a name that is not UTF-8, which crashes OpenCV's Python binding)
        # goes through an in-memory encode and Python's own file writing instead.
        # What the encoder libraries print when a write fails (libpng's "Write Error", OpenCV's [ERROR]
        # lines on a full disk) is kept off stderr: the OSError of the in-memory route below says why.
        with quiet_opencv(capture=True):
            if opencv_can_name(path) and atomic.write_with(path, lambda tmp: cv2.imwrite(str(tmp), image, params)):
                return path
            ok, encoded = cv2.imencode(suffix, image, params)  # also says why when writing in place failed
        if not ok:
            raise OutputError(f"{path}: cannot encode the image as {suffix}")
        atomic.write_bytes(path, encoded)
    except cv2.error as e:
        raise OutputError(f"{path}: cannot encode the image as {suffix} ({opencv_reason(e)})") from None
    except atomic.CannotCreateError as e:
        raise OutputError(f"{path}: cannot write into {folder} ({e.strerror or e})") from None
    except OSError as e:
        raise OutputError(f"{path}: cannot write ({e.strerror or e})") from None
    return path


def opencv_can_name(path: str | os.PathLike) -> bool:
    """Whether OpenCV may be handed this path as a file name: on POSIX, one that is valid UTF-8 (a
    byte that is not, such as ``\\xff``, reaches Python as a lone surrogate, and OpenCV's binding
    then crashes the process with a segmentation fault); on Windows, never (OpenCV's names are ANSI)."""
    if os.name == "nt":
        return False
    try:
        os.fspath(path).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def encode_image(image: np.ndarray, suffix: str, quality: int = JPEG_QUALITY) -> bytes:
    """The bytes ``write_image_atomic`` would write for ``suffix`` (same depth, alpha and quality rules), in memory."""
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 0 <= quality <= 100:
        raise UsageError(f"quality must be an integer 0..100, got {quality!r}")
    suffix = suffix.lower()
    if suffix not in IMAGE_SUFFIXES:
        raise OutputError(f"unsupported output format {suffix!r} (use {', '.join(IMAGE_SUFFIXES)})")
    params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)] if suffix in _JPEG else []
    if suffix == ".webp":
        params = [cv2.IMWRITE_WEBP_QUALITY, int(quality)]
    try:
        ok, encoded = cv2.imencode(suffix, _encodable_for(image, suffix), params)
    except cv2.error as e:
        raise OutputError(f"cannot encode the image as {suffix} ({opencv_reason(e)})") from None
    if not ok:
        raise OutputError(f"cannot encode the image as {suffix}")
    return encoded.tobytes()


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """True when ``a`` and ``b`` name one file: the same resolved path, or (both existing) the same inode,
    as a hard link or a bind mount would give. Used to refuse writing an output onto an input."""
    a, b = Path(a), Path(b)
    try:
        if a.resolve() == b.resolve():
            return True
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except (OSError, RuntimeError, ValueError):  # a symlink loop, a bad name: not provably the same
        return False


def sniff(data: bytes) -> str | None:
    """The image format from the first bytes, or None."""
    for magic, kind in _SIGNATURES:
        if data.startswith(magic):
            return kind
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    if data[4:12] in (b"ftypavif", b"ftypavis"):
        return "AVIF"
    return None


def exif_orientation(data: bytes) -> int:
    """The EXIF orientation (1..8; 1 = upright) of JPEG or PNG bytes; 1 when absent or unreadable."""
    try:
        if data.startswith(b"\xff\xd8"):
            for marker, start, end in _jpeg_segments(data):
                if marker == 0xE1 and data[start:start + 6] == b"Exif\x00\x00":
                    return _tiff_orientation(data[start + 6:end])
        elif data.startswith(b"\x89PNG"):
            pos = 8
            while pos + 8 <= len(data):
                length, kind = struct.unpack(">I4s", data[pos:pos + 8])
                if kind == b"eXIf":
                    return _tiff_orientation(data[pos + 8:pos + 8 + length])
                if kind in (b"IDAT", b"IEND"):
                    break
                pos += 12 + length
    except (struct.error, ValueError, IndexError):
        pass
    return 1


def apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn an image stored with EXIF ``orientation`` upright."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.flip(cv2.transpose(image), -1)
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


# -- internals ---------------------------------------------------------------------------------


def _read_bytes(path: Path) -> bytes:
    """The whole file; only a regular file is read (a FIFO would block, /dev/zero never ends): it is
    opened without blocking and checked on the open descriptor (``regular.open_regular``, the one check)."""
    try:
        with open_regular(path) as f:
            data = f.read()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except NotRegular as e:
        raise InputError(f"{path}: is a folder, not an image" if stat.S_ISDIR(e.mode) else f"{path}: {e}; refused") \
            from None
    except OSError as e:
        if path.is_dir():  # Windows refuses to open a folder at all
            raise InputError(f"{path}: is a folder, not an image") from None
        raise InputError(f"{path}: cannot read ({e.strerror or e})") from None
    if not data:
        raise InputError(f"{path}: empty file (0 bytes)")
    return data


def _imdecode(data: bytes) -> tuple[np.ndarray | None, list[str]]:
    """cv2.imdecode keeping depth and alpha; None and OpenCV's reason when it raises (its own size limit, memory)."""
    try:
        return cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED), []
    except cv2.error as e:
        return None, [opencv_reason(e)]


def _jpeg_segments(data: bytes):
    """(marker, payload start, payload end) of each JPEG header segment, up to and including SOS."""
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("bad JPEG segment")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:  # markers without a length
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("JPEG segment runs past the end")
        yield marker, pos + 4, pos + 2 + length
        if marker == 0xDA:  # start of scan: entropy-coded data follows
            return
        pos += 2 + length


def _check_jpeg_complete(path: Path, data: bytes) -> None:
    """A complete JPEG has the end-of-image marker after its first scan (an EXIF thumbnail's own
    FFD9 sits inside APP1, before the scan, and trailing camera data may follow the real one)."""
    scan = None
    try:
        for marker, _start, end in _jpeg_segments(data):
            if marker == 0xDA:
                scan = end
    except ValueError:
        raise InputError(f"{path}: truncated or corrupt JPEG (header cut short)") from None
    if scan is None:
        raise InputError(f"{path}: truncated or corrupt JPEG (no image data)")
    if data.find(b"\xff\xd9", scan) < 0:
        raise InputError(f"{path}: truncated JPEG (no end-of-image marker; the file was cut short)")


def _tiff_orientation(tiff: bytes) -> int:
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None:
        return 1
    (ifd,) = struct.unpack(order + "I", tiff[4:8])
    (count,) = struct.unpack(order + "H", tiff[ifd:ifd + 2])
    for i in range(count):
        entry = ifd + 2 + 12 * i
        tag, _type = struct.unpack(order + "HH", tiff[entry:entry + 4])
        if tag == 0x0112:
            (value,) = struct.unpack(order + "H", tiff[entry + 8:entry + 10])
            return value if 1 <= value <= 8 else 1
    return 1


def _encodable_for(image: np.ndarray, suffix: str) -> np.ndarray:
    """What the encoder for ``suffix`` can store: depth, and alpha for JPEG."""
    if not isinstance(image, np.ndarray) or image.ndim not in (2, 3) or image.size == 0:
        raise OutputError(f"cannot write {getattr(image, 'shape', type(image).__name__)}: not an image array")
    if image.dtype == np.float32 or image.dtype == np.float64:
        wide = suffix not in _EIGHT_BIT_ONLY
        top = 65535.0 if wide else 255.0
        image = np.clip(image * top + 0.5, 0, top).astype(np.uint16 if wide else np.uint8)
    if image.dtype == np.uint16 and suffix in _EIGHT_BIT_ONLY:
        image = cv2.convertScaleAbs(image, alpha=255.0 / 65535.0)
    if image.dtype not in (np.uint8, np.uint16):
        raise OutputError(f"cannot write pixel type {image.dtype}")
    if suffix in _NO_ALPHA and image.ndim == 3 and image.shape[2] == 4:
        image = np.ascontiguousarray(image[:, :, :3])
    return image

"""An image's width and height from its header bytes, without decoding it.

A decoder allocates the whole picture before it reads a pixel, so a 65 KB JPEG whose header says
30000x30000 costs gigabytes (a decompression bomb). ``files.read_image`` reads the size here first
and refuses too many pixels before OpenCV sees the file. Pillow does the same with
``Image.MAX_IMAGE_PIXELS``; this stays on the standard library (no Pillow at run time).
"""

from __future__ import annotations

import re
import struct

# JPEG start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the size
_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def size(data: bytes, kind: str | None) -> tuple[int, int] | None:
    """(width, height) stated by the header of ``kind`` (from ``files.sniff``), or None when it cannot be read."""
    try:
        reader = _READERS.get(kind or "")
        got = reader(data) if reader else None
    except (struct.error, ValueError, IndexError):
        return None
    if got is None:
        return None
    width, height = got
    return (abs(int(width)), abs(int(height)))


def _jpeg(data: bytes) -> tuple[int, int] | None:
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xFF:
            pos += 1
            continue
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            pos += 2
            continue
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if marker in _SOF:
            height, width = struct.unpack(">HH", data[pos + 5:pos + 9])
            return width, height
        if marker == 0xDA or length < 2:
            return None
        pos += 2 + length
    return None


def _png(data: bytes) -> tuple[int, int] | None:
    if data[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", data[16:24])


def _bmp(data: bytes) -> tuple[int, int] | None:
    (header,) = struct.unpack("<I", data[14:18])
    if header == 12:  # OS/2 BITMAPCOREHEADER
        return struct.unpack("<HH", data[18:22])
    return struct.unpack("<ii", data[18:26])


def _gif(data: bytes) -> tuple[int, int] | None:
    return struct.unpack("<HH", data[6:10])


def _tiff(data: bytes) -> tuple[int, int] | None:
    """The largest width x height among the file's image directories (a TIFF may hold several pages)."""
    order = {b"II": "<", b"MM": ">"}[data[:2]]
    (ifd,) = struct.unpack(order + "I", data[4:8])
    best = None
    for _ in range(64):  # a loop of IFD offsets must not run forever
        if ifd == 0 or ifd + 2 > len(data):
            break
        (count,) = struct.unpack(order + "H", data[ifd:ifd + 2])
        found = {}
        for i in range(count):
            entry = ifd + 2 + 12 * i
            tag, kind = struct.unpack(order + "HH", data[entry:entry + 4])
            if tag in (256, 257):
                fmt = "H" if kind == 3 else "I"
                (found[tag],) = struct.unpack(order + fmt, data[entry + 8:entry + 8 + struct.calcsize(fmt)])
        if 256 in found and 257 in found and (best is None or found[256] * found[257] > best[0] * best[1]):
            best = (found[256], found[257])
        end = ifd + 2 + 12 * count
        (ifd,) = struct.unpack(order + "I", data[end:end + 4])
    return best


def _webp(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8 ":
        w, h = struct.unpack("<HH", data[26:30])
        return w & 0x3FFF, h & 0x3FFF
    if chunk == b"VP8L":
        b = data[21:25]
        return 1 + (((b[1] & 0x3F) << 8) | b[0]), 1 + (((b[3] & 0xF) << 10) | (b[2] << 2) | ((b[1] & 0xC0) >> 6))
    if chunk == b"VP8X":
        b = data[24:30]
        return 1 + int.from_bytes(b[0:3], "little"), 1 + int.from_bytes(b[3:6], "little")
    return None


def _box(data: bytes, name: bytes, offset: int, fmt: str) -> tuple[int, int] | None:
    """Width and height from the first ISO-BMFF/JP2 box ``name`` (found by search: headers sit at the front)."""
    at = data.find(name, 0, 1 << 20)
    if at < 0:
        return None
    return struct.unpack(fmt, data[at + offset:at + offset + struct.calcsize(fmt)])


def _jp2(data: bytes) -> tuple[int, int] | None:
    got = _box(data, b"ihdr", 4, ">II")  # height, width
    return (got[1], got[0]) if got else None


def _avif(data: bytes) -> tuple[int, int] | None:
    return _box(data, b"ispe", 8, ">II")  # version/flags, then width, height


def _hdr(data: bytes) -> tuple[int, int] | None:
    m = re.search(rb"\n([-+])Y (\d+) ([-+])X (\d+)\n", data[:1 << 16])
    return (int(m[4]), int(m[2])) if m else None


_READERS = {
    "JPEG": _jpeg, "PNG": _png, "BMP": _bmp, "GIF": _gif, "TIFF": _tiff, "WebP": _webp,
    "JPEG 2000": _jp2, "AVIF": _avif, "HDR": _hdr,
}

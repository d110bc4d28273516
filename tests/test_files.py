"""Reading awkward image files and writing results atomically."""

from __future__ import annotations

import os
import stat
import struct
import threading
import warnings
import zlib

import cv2
import numpy as np
import pytest
from conftest import photo
from PIL import Image

from edgecolor.errors import EdgecolorError, InputError, UsageError
from edgecolor.files import ImageWarning, exif_orientation, image_paths, read_image, write_image_atomic
from edgecolor.limits import DEFAULT_MAX_PIXELS


def colour_photo(h=40, w=60) -> np.ndarray:
    """An asymmetric colour image, so flips and rotations are visible."""
    img = photo(h, w).copy()
    img[: h // 3, : w // 4] = (0, 0, 255)
    img[-3:, :, 0] = 255
    return img


def save_pil(path, array_bgr: np.ndarray, mode: str | None = None, **kw):
    im = Image.fromarray(cv2.cvtColor(array_bgr, cv2.COLOR_BGR2RGB))
    if mode:
        im = im.convert(mode)
    im.save(path, **kw)
    return path


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif", ".webp"])
def test_round_trip_8bit(tmp_path, suffix):
    img = colour_photo()
    path = write_image_atomic(tmp_path / f"out{suffix}", img)
    back = read_image(path)
    assert back.shape == img.shape and back.dtype == np.uint8
    assert np.abs(back.astype(int) - img).mean() < (6 if suffix in (".jpg", ".webp") else 0.01)


def test_16bit_png_and_tiff(tmp_path):
    img = (np.random.default_rng(0).random((30, 40, 3)) * 65535).astype(np.uint16)
    for suffix in (".png", ".tiff"):
        back = read_image(write_image_atomic(tmp_path / f"deep{suffix}", img))
        assert back.dtype == np.uint16
        np.testing.assert_array_equal(back, img)
    grey = img[:, :, 0].copy()
    np.testing.assert_array_equal(read_image(write_image_atomic(tmp_path / "g.png", grey)), grey)


def test_16bit_to_jpeg_is_scaled_not_clipped(tmp_path):
    img = np.full((20, 20, 3), 32768, np.uint16)
    back = read_image(write_image_atomic(tmp_path / "half.jpg", img))
    assert back.dtype == np.uint8 and abs(int(back.mean()) - 128) <= 1


def test_alpha_kept_and_dropped_for_jpeg(tmp_path):
    img = np.dstack([colour_photo(), np.linspace(0, 255, 60, dtype=np.uint8)[None, :].repeat(40, 0)])
    back = read_image(write_image_atomic(tmp_path / "a.png", img))
    np.testing.assert_array_equal(back, img)
    assert read_image(write_image_atomic(tmp_path / "a.jpg", img)).shape == (40, 60, 3)


def test_grey_images(tmp_path):
    grey = photo()[:, :, 0]
    for suffix in (".png", ".jpg"):
        back = read_image(write_image_atomic(tmp_path / f"g{suffix}", grey))
        assert back.ndim == 2 and back.shape == grey.shape
    la = save_pil(tmp_path / "la.png", photo(), "LA")
    assert read_image(la).shape == (120, 160, 4)


def test_palette_png_and_gif_style(tmp_path):
    path = save_pil(tmp_path / "p.png", colour_photo(), "P")
    assert Image.open(path).mode == "P"
    img = read_image(path)
    assert img.shape == (40, 60, 3) and img.dtype == np.uint8
    assert img[2, 2, 2] > 200 and img[2, 2, 0] < 60  # the red corner survived the palette
    im = Image.open(path)
    im.save(tmp_path / "pt.png", transparency=0)
    assert read_image(tmp_path / "pt.png").shape == (40, 60, 4)


def test_cmyk_jpeg(tmp_path):
    img = colour_photo()
    path = save_pil(tmp_path / "cmyk.jpg", img, "CMYK", quality=95)
    assert Image.open(path).mode == "CMYK"
    back = read_image(path)
    assert back.shape == (40, 60, 3)
    assert np.abs(back.astype(int) - img).mean() < 8


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_gives_upright_image(tmp_path, orientation):
    """Each orientation, compared with OpenCV's own EXIF handling (IMREAD_COLOR applies it)."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = save_pil(tmp_path / f"o{orientation}.jpg", colour_photo(), exif=exif.tobytes(), quality=95)
    assert exif_orientation(path.read_bytes()) == orientation
    back = read_image(path)
    reference = cv2.imdecode(np.fromfile(path, np.uint8), cv2.IMREAD_COLOR)
    assert back.shape == reference.shape == ((40, 60, 3) if orientation <= 4 else (60, 40, 3))
    np.testing.assert_array_equal(back, reference)


def test_exif_rotated_png(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6
    path = save_pil(tmp_path / "rot.png", colour_photo(), exif=exif.tobytes())
    back = read_image(path)
    assert back.shape == (60, 40, 3)
    np.testing.assert_array_equal(back, cv2.rotate(colour_photo(), cv2.ROTATE_90_CLOCKWISE))


def test_non_ascii_paths(tmp_path):
    folder = tmp_path / "фото 写真"
    folder.mkdir()
    img = colour_photo()
    path = write_image_atomic(folder / "старое-фото-ü.png", img)
    assert path.exists()
    np.testing.assert_array_equal(read_image(path), img)


def _write(content: bytes | None):
    def make(path):
        if content is None:
            path.mkdir()
        else:
            path.write_bytes(content)
        return path

    return make


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, "no such file"),
        (_write(None), "is a folder, not an image"),
        (_write(b""), r"empty file \(0 bytes\)"),
        (_write(b"this is not a photo\n"), r"not an image file \(unrecognised content\)"),
        (_write(b"\xff\xd8\xff\xe0" + b"\x00" * 50), "truncated or corrupt JPEG"),
        (_write(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40 + b"IEND\xaeB`\x82"), "corrupt or unsupported PNG image"),
    ],
    ids=["missing", "folder", "zero-byte", "text", "jpeg-header-only", "broken-png"],
)
def test_bad_files(tmp_path, make, message):
    path = make(tmp_path / "bad.jpg")
    with pytest.raises(EdgecolorError, match=message) as err:
        read_image(path)
    assert str(err.value).startswith(f"{path}: ")


def test_truncated_jpeg(tmp_path):
    ok, data = cv2.imencode(".jpg", colour_photo(200, 300))
    data = data.tobytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises(EdgecolorError, match=r"cut\.jpg: truncated JPEG \(no end-of-image marker"):
        read_image(tmp_path / "cut.jpg")
    (tmp_path / "trailer.jpg").write_bytes(data + b"camera maker notes")  # data after EOI is fine
    assert read_image(tmp_path / "trailer.jpg").shape == (200, 300, 3)


def test_truncated_png(tmp_path):
    ok, data = cv2.imencode(".png", colour_photo())
    (tmp_path / "cut.png").write_bytes(data.tobytes()[:-200])
    with pytest.raises(EdgecolorError, match="truncated PNG"):
        read_image(tmp_path / "cut.png")


def test_thumbnail_eoi_does_not_hide_truncation(tmp_path):
    """An EXIF thumbnail carries its own FFD9 before the main image; a cut file must still fail."""
    ok, thumb = cv2.imencode(".jpg", colour_photo(20, 30))
    ok, main = cv2.imencode(".jpg", colour_photo(200, 300))
    app1 = b"Exif\x00\x00" + thumb.tobytes()
    data = main.tobytes()
    data = data[:2] + b"\xff\xe1" + (len(app1) + 2).to_bytes(2, "big") + app1 + data[2:]
    (tmp_path / "whole.jpg").write_bytes(data)
    assert read_image(tmp_path / "whole.jpg").shape == (200, 300, 3)
    (tmp_path / "thumb.jpg").write_bytes(data[:-500])
    assert b"\xff\xd9" in data[:-500]  # the thumbnail's marker is still there
    with pytest.raises(EdgecolorError, match="truncated JPEG"):
        read_image(tmp_path / "thumb.jpg")


@pytest.mark.skipif(os.geteuid() == 0 if hasattr(os, "geteuid") else True, reason="root can read anything")
def test_unreadable_file(tmp_path):
    path = write_image_atomic(tmp_path / "locked.png", colour_photo())
    path.chmod(0)
    with pytest.raises(EdgecolorError, match="cannot read"):
        read_image(path)


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    path = tmp_path / "out.png"
    write_image_atomic(path, colour_photo())
    write_image_atomic(path, photo())
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]
    np.testing.assert_array_equal(read_image(path), photo())
    assert stat.S_IMODE(path.stat().st_mode) & 0o044  # normal permissions, not mkstemp's 0600


def test_failed_write_leaves_nothing(tmp_path):
    with pytest.raises(EdgecolorError, match=r"unsupported output format '\.gif'"):
        write_image_atomic(tmp_path / "x.gif", photo())
    with pytest.raises(EdgecolorError, match="output folder .* does not exist"):
        write_image_atomic(tmp_path / "missing" / "x.png", photo())
    with pytest.raises(EdgecolorError, match="not an image array"):
        write_image_atomic(tmp_path / "x.png", np.zeros((0, 3), np.uint8))
    (tmp_path / "dir.png").mkdir()
    with pytest.raises(EdgecolorError, match="is a folder"):
        write_image_atomic(tmp_path / "dir.png", photo())
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dir.png"]


def test_write_into_unwritable_folder(tmp_path):
    """A read-only folder (or, for root, a path whose parent is a file)."""
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(0o555)
    try:
        if os.access(target, os.W_OK):  # root ignores permissions: use a non-folder parent instead
            with pytest.raises(EdgecolorError, match="does not exist"):
                write_image_atomic(tmp_path / "file.png" / "x.png", photo())
        else:
            with pytest.raises(EdgecolorError, match=r"cannot write into .*ro \(Permission denied\)"):
                write_image_atomic(target / "x.png", photo())
        assert list(target.iterdir()) == []
    finally:
        target.chmod(0o755)


def test_write_failure_midway_cleans_up(tmp_path, monkeypatch):
    """If the final rename fails, the temporary file is removed and the old output is untouched."""
    path = write_image_atomic(tmp_path / "keep.png", colour_photo())
    before = path.read_bytes()

    def broken_replace(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", broken_replace)
    with pytest.raises(EdgecolorError, match="keep.png: cannot write .No space left on device"):
        write_image_atomic(path, photo())
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"] and path.read_bytes() == before


def test_image_paths_finds_photos_whatever_the_suffix_case(tmp_path):
    """A camera's IMG_1.JPG is a photo like a.png; notes and folders named like images are not."""
    for name in ("IMG_1.JPG", "b.Png", "sub/c.jpeg"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        write_image_atomic(tmp_path / name, photo(8, 8))
    (tmp_path / "notes.txt").write_text("not a photo")
    (tmp_path / "folder.jpg").mkdir()
    assert [p.relative_to(tmp_path).as_posix() for p in image_paths(tmp_path)] == ["IMG_1.JPG", "b.Png", "sub/c.jpeg"]


# -- refused before decoding or opening (issue 10 items 7, 8, 15, 16) -----------------------------


def _jpeg_claiming(tmp_path, width: int, height: int):
    """A small real JPEG whose start-of-frame header is rewritten to claim ``width`` x ``height``."""
    ok, data = cv2.imencode(".jpg", photo(64, 64)[:, :, 0])
    data = bytearray(data.tobytes())
    sof = data.index(b"\xff\xc0")
    data[sof + 5:sof + 9] = struct.pack(">HH", height, width)
    path = tmp_path / "bomb.jpg"
    path.write_bytes(bytes(data))
    return path


def _png_claiming(tmp_path, width: int, height: int):
    ok, data = cv2.imencode(".png", photo(64, 64)[:, :, 0])
    data = bytearray(data.tobytes())
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    path = tmp_path / "bomb.png"
    path.write_bytes(bytes(data))
    return path


def test_decompression_bombs_are_refused_from_the_header(tmp_path):
    """A tiny file whose header claims 12000x12000 (144 MP) is refused before any decoding; the limit is a knob."""
    for path in (_jpeg_claiming(tmp_path, 12000, 12000), _png_claiming(tmp_path, 12000, 12000)):
        assert path.stat().st_size < 10_000
        with pytest.raises(InputError, match=r"image too large: 12000x12000 = 144 megapixels, above the limit of 120"):
            read_image(path)
    assert DEFAULT_MAX_PIXELS == 120_000_000
    small = write_image_atomic(tmp_path / "small.png", photo(60, 80))
    with pytest.raises(InputError, match="image too large: 80x60"):
        read_image(small, max_pixels=4799)
    assert read_image(small, max_pixels=4800).shape == (60, 80, 3)
    assert read_image(small, max_pixels=None).shape == (60, 80, 3)
    for bad in (0, -1, 1.5, "many", True):
        with pytest.raises(UsageError, match="max_pixels"):
            read_image(small, max_pixels=bad)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".bmp", ".tif", ".webp"])
def test_header_size_matches_the_decoded_size(tmp_path, suffix):
    from edgecolor import imageheader
    from edgecolor.files import sniff

    path = write_image_atomic(tmp_path / f"x{suffix}", colour_photo(37, 91))
    data = path.read_bytes()
    assert imageheader.size(data, sniff(data)) == (91, 37)


def test_beyond_opencvs_own_limit_is_one_line_not_an_assertion(tmp_path):
    """With no limit of ours, OpenCV's own (2^30 pixels) answers: an InputError, not cv2.error text."""
    path = _png_claiming(tmp_path, 40000, 40000)
    with pytest.raises(InputError, match=r"bomb.png: corrupt or unsupported PNG image") as info:
        read_image(path, max_pixels=None)
    assert "\n" not in str(info.value)


def test_non_regular_files_are_refused_without_blocking(tmp_path):
    """A FIFO named like a photo would block open() forever, /dev/zero would fill memory: both refused at once."""
    fifo = tmp_path / "f.jpg"
    os.mkfifo(fifo)
    zero = tmp_path / "z.jpg"
    zero.symlink_to("/dev/zero")
    failures = []

    def read_all():
        for path in (fifo, zero):
            try:
                read_image(path)
            except InputError as e:
                failures.append(str(e))

    worker = threading.Thread(target=read_all, daemon=True)
    worker.start()
    worker.join(20)
    if worker.is_alive():  # unblock the reader before failing
        open(fifo, "wb").close()
    assert not worker.is_alive(), "read_image blocked on a FIFO"
    assert failures == [
        f"{fifo}: not a regular file (a FIFO); refused", f"{zero}: not a regular file (a device); refused"
    ]


def _damaged_jpeg(tmp_path):
    noise = (np.random.default_rng(0).random((64, 64)) * 255).astype(np.uint8)
    ok, data = cv2.imencode(".jpg", noise)
    data = bytearray(data.tobytes())
    mid = len(data) // 2
    data[mid:mid + 20] = b"\x00" * 20  # libjpeg: "Corrupt JPEG data: N extraneous bytes before marker 0xd9"
    path = tmp_path / "damaged.jpg"
    path.write_bytes(bytes(data))
    return path


def _damaged_tiff(tmp_path):
    ok, data = cv2.imencode(".tif", photo(64, 64)[:, :, 0])
    data = bytearray(data.tobytes())
    data[-30:-20] = b"\xff" * 10  # a directory entry with an unknown tag
    path = tmp_path / "damaged.tif"
    path.write_bytes(bytes(data))
    return path


def test_decoder_library_messages_stay_off_stderr(tmp_path, capfd):
    """libjpeg's "Corrupt JPEG data" and libtiff's warnings (via OpenCV's log) become one ImageWarning each."""
    for make in (_damaged_jpeg, _damaged_tiff):
        path = make(tmp_path)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            image = read_image(path)
        assert image.shape == (64, 64)
        out, err = capfd.readouterr()
        assert err == "" and out == ""
        assert len(caught) == 1 and issubclass(caught[0].category, ImageWarning), [str(w.message) for w in caught]
        message = str(caught[0].message)
        assert message.startswith(f"{path}: damaged ") and "\n" not in message


def test_api_arguments_are_edgecolor_errors(tmp_path):
    with pytest.raises(UsageError, match="quality"):
        write_image_atomic(tmp_path / "x.jpg", photo(), quality="x")
    with pytest.raises(UsageError, match="quality"):
        write_image_atomic(tmp_path / "x.jpg", photo(), quality=101)
    assert list(tmp_path.iterdir()) == []


def _bytes_name(folder, name: bytes):
    """``folder/name`` for a name that is not UTF-8 (Python holds its bytes as lone surrogates); skips where
    the file system refuses such names (some refuse any name that is not UTF-8)."""
    path = os.path.join(os.fsencode(folder), name)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o644))
        os.unlink(path)
    except OSError as e:
        pytest.skip(f"this file system refuses names that are not UTF-8 ({e.strerror})")
    return os.fsdecode(path)


@pytest.mark.parametrize("suffix", [".png", ".jpg", ".tif"])
def test_a_file_name_that_is_not_utf8_is_written_and_read(tmp_path, suffix):
    """OpenCV's binding crashes (SIGSEGV) when handed such a name: the bytes go through Python's file writing."""
    from edgecolor.files import opencv_can_name

    dst = _bytes_name(tmp_path, b"\xff\xfe grey" + suffix.encode())
    assert not opencv_can_name(dst) and opencv_can_name(tmp_path / "Großvater.png")
    write_image_atomic(dst, photo())
    assert os.listdir(os.fsencode(tmp_path)) == [b"\xff\xfe grey" + suffix.encode()]  # no temporary left
    back = read_image(dst)
    assert back.shape == photo().shape
    if suffix != ".jpg":
        np.testing.assert_array_equal(back, photo())


def test_a_damaged_photo_is_told_apart_from_clean_ones_decoded_at_the_same_time(tmp_path, capfd):
    """Decodes on several threads capture fd 2 together (none waits for another); libjpeg's "Corrupt JPEG data"
    printed while clean photos decode too is the damaged photo's warning only (it is decoded again, alone)."""
    damaged = _damaged_jpeg(tmp_path)
    clean = tmp_path / "clean.jpg"
    cv2.imwrite(str(clean), photo(256, 384))
    start = threading.Barrier(4)

    def work(path):
        start.wait()
        for _ in range(15):
            read_image(path)

    threads = [threading.Thread(target=work, args=(damaged,))]
    threads += [threading.Thread(target=work, args=(clean,)) for _ in range(3)]
    with warnings.catch_warnings(record=True) as caught:  # process-wide: one list for every thread
        warnings.simplefilter("always")
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    said = [str(w.message) for w in caught]
    assert len(said) == 15 and all(m.startswith(f"{damaged}: damaged JPEG data (Corrupt JPEG") for m in said), said
    assert capfd.readouterr().err == ""


@pytest.mark.parametrize("suffix", [".jpg", ".png", ".tif", ".webp", ".bmp"])
@pytest.mark.parametrize("kind", ["grey8", "bgra16"])
def test_encode_image_is_what_write_image_atomic_writes(tmp_path, suffix, kind):
    """`edgecolor serve` answers with encode_image's bytes; they must be the file `colorize` writes."""
    from edgecolor.files import encode_image

    image = cv2.cvtColor(photo(30, 50), cv2.COLOR_BGR2GRAY)
    if kind == "bgra16":
        image = cv2.merge([image.astype(np.uint16) * 257] * 3 + [np.full(image.shape, 50000, np.uint16)])
    written = write_image_atomic(tmp_path / f"out{suffix}", image).read_bytes()
    assert encode_image(image, suffix) == written
    with pytest.raises(UsageError):
        encode_image(image, suffix, quality=101)


def test_decode_image_reads_bytes_as_read_image_reads_the_file(tmp_path):
    from edgecolor.files import decode_image

    path = tmp_path / "in.jpg"
    cv2.imwrite(str(path), colour_photo())
    data = path.read_bytes()
    np.testing.assert_array_equal(decode_image(data, "upload.jpg"), read_image(path))
    with pytest.raises(InputError, match=r"^upload\.jpg: truncated JPEG"):
        decode_image(data[: len(data) // 2], "upload.jpg")
    with pytest.raises(InputError, match=r"^upload\.jpg: empty file"):
        decode_image(b"", "upload.jpg")
    with pytest.raises(InputError, match=r"^upload\.jpg: image too large"):
        decode_image(data, "upload.jpg", max_pixels=100)

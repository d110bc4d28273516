"""writers.py: frames into a playable file through ffmpeg or OpenCV; what was written is said, a failure is
one OutputError naming the file. Real encoders (imageio-ffmpeg's ffmpeg, OpenCV), read back with OpenCV."""

from __future__ import annotations

import numpy as np
import pytest
from video_fixtures import frames_of

from edgecolor.errors import OutputError
from edgecolor.ffmpeg import find_ffmpeg
from edgecolor.writers import Cv2Writer, FfmpegWriter, open_writer

FFMPEG = find_ffmpeg()
needs_ffmpeg = pytest.mark.skipif(FFMPEG is None, reason="no ffmpeg (imageio-ffmpeg)")


def _frames() -> list[np.ndarray]:
    """Frames as a stream may hand them: BGR, grey, 16-bit, BGRA and one of another size."""
    bgr = np.full((48, 64, 3), (40, 120, 200), np.uint8)
    return [bgr, np.full((48, 64), 128, np.uint8), (bgr.astype(np.uint16) << 8), np.dstack([bgr, bgr[:, :, :1]]),
            np.full((96, 128, 3), (40, 120, 200), np.uint8)]


@needs_ffmpeg
def test_ffmpeg_writer_takes_every_frame_at_the_file_size(tmp_path):
    path = tmp_path / "out.mp4"
    writer = open_writer(path, (64, 48), 10.0, ffmpeg=FFMPEG)
    assert isinstance(writer, FfmpegWriter)
    for frame in _frames():
        writer.write(frame)
    writer.close()
    got = frames_of(path)
    assert len(got) == 5 and all(f.shape == (48, 64, 3) for f in got)
    assert abs(int(got[0][24, 32, 2]) - 200) < 12 and abs(int(got[1][24, 32, 0]) - 128) < 12  # colour and grey kept
    assert writer.seconds == pytest.approx(0.5)


def test_without_ffmpeg_one_warning_names_the_codec(tmp_path):
    said: list[str] = []
    path = tmp_path / "out.avi"
    writer = open_writer(path, (64, 48), 10.0, ffmpeg=None, warn=said.append)
    assert isinstance(writer, Cv2Writer)
    for frame in _frames():
        writer.write(frame)
    writer.close()
    assert said == [f"{path}: no ffmpeg found (pip install imageio-ffmpeg): OpenCV writes it as "
                    f"{writer.codec_name} video, without sound"]
    assert writer.codec_name.endswith(f"({writer.fourcc})")
    assert len(frames_of(path)) == 5


@needs_ffmpeg
def test_an_output_ffmpeg_cannot_write_is_an_output_error(tmp_path):
    """ffmpeg cannot create the file (its folder is missing): one line naming the target, this file failed."""
    target = tmp_path / "missing" / "out.mp4"
    writer = open_writer(target, (64, 48), 10.0, ffmpeg=FFMPEG)
    with pytest.raises(OutputError) as caught:
        for frame in _frames() * 200:
            writer.write(frame)
        writer.close()
    assert str(caught.value).startswith(f"{target}: ffmpeg ")
    assert "\n" not in str(caught.value)
    writer.abort()
    assert not target.parent.exists()

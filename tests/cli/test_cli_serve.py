"""`edgecolor serve` as users run it: a real process, its printed address, a stop by Ctrl-C or SIGTERM."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from cli_support import REPO, assert_no_traceback, errors, run_cli, run_python, write_image
from conftest import photo

pytest.importorskip("fastapi", reason="the 'serve' extra is not installed")
httpx = pytest.importorskip("httpx")

WITHOUT_FASTAPI = """
import sys
sys.modules["fastapi"] = None
from edgecolor.cli import main
main(sys.argv[1:])
"""


def test_serve_without_the_extra_says_how_to_install_it(tmp_path):
    done = run_python(WITHOUT_FASTAPI, "serve", "--port", "0", cwd=tmp_path, timeout=60)
    assert done.returncode == 2
    assert errors(done.stderr) == [
        "edgecolor: error: edgecolor serve needs the 'serve' extra (fastapi is missing): pip install 'edgecolor[serve]'"
    ]
    assert_no_traceback(done.stderr)


@pytest.mark.slow
def test_port_in_use_and_bad_model_are_one_line_exit_2(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_cli("serve", "--port", port, cwd=tmp_path, timeout=120)
    assert done.returncode == 2, done.stderr
    assert len(errors(done.stderr)) == 1 and f"--port {port}: cannot listen on 127.0.0.1:{port}" in done.stderr
    missing = run_cli("serve", "--port", "0", "--model", tmp_path / "nope.onnx", cwd=tmp_path, timeout=120)
    assert missing.returncode == 2 and len(errors(missing.stderr)) == 1, missing.stderr
    assert "serving on" not in missing.stdout  # nothing listened: the model failed first
    assert_no_traceback(done.stderr, missing.stderr)


def start(tmp_path: Path, *args: str) -> tuple[subprocess.Popen, str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    proc = subprocess.Popen([sys.executable, "-m", "edgecolor", "serve", "--port", "0", *args], cwd=tmp_path,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    match = re.search(r"serving on (http://127\.0\.0\.1:\d+/)", line)
    if not match:
        proc.kill()
        pytest.fail(f"no address printed: {line!r} {proc.stderr.read()}")
    return proc, match[1]


@pytest.mark.slow
@pytest.mark.parametrize(("how", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_serve_runs_and_stops_with_a_summary(tmp_path, how, code):
    image = write_image(tmp_path / "old.jpg", photo())
    proc, url = start(tmp_path, "--token", "t0ken")
    try:
        with httpx.Client(base_url=url, timeout=60) as c:
            assert c.get("/health").json()["status"] == "ok"
            r = c.post("/colorize", files={"file": ("old.jpg", image.read_bytes())},
                       headers={"Authorization": "Bearer t0ken"})
            assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
            assert c.post("/colorize", content=b"junk").status_code == 401
        time.sleep(0.2)
        proc.send_signal(how)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, err
    assert "edgecolor: served 1 photos, 0 failed, 0 turned away (queue full)" in out
    assert_no_traceback(out, err)
    assert not errors(err)
    assert list(tmp_path.iterdir()) == [tmp_path / "old.jpg"]  # nothing written beside the work folder


@pytest.mark.slow
def test_a_stop_lets_the_running_photo_finish(tmp_path):
    """SIGTERM while a photo is being colorized: its client still gets the whole result, then the server exits."""
    import threading

    import cv2

    image = write_image(tmp_path / "big.jpg", cv2.resize(photo(300, 400), (1600, 1200)))
    proc, url = start(tmp_path)
    got = {}

    def post() -> None:
        with httpx.Client(base_url=url, timeout=120) as c:
            got["r"] = c.post("/colorize", files={"file": ("big.jpg", image.read_bytes())}, params={"size": "1024"})

    try:
        client = threading.Thread(target=post)
        client.start()
        with httpx.Client(base_url=url, timeout=30) as c:
            deadline = time.monotonic() + 60
            while c.get("/health").json()["in_flight"] == 0:
                assert time.monotonic() < deadline and client.is_alive()
                time.sleep(0.002)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=120)
        client.join(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err
    assert got["r"].status_code == 200
    result = cv2.imdecode(np.frombuffer(got["r"].content, np.uint8), cv2.IMREAD_COLOR)
    assert result.shape == (1200, 1600, 3)
    assert "served 1 photos" in out

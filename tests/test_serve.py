"""edgecolor.serve against real clients: the real uvicorn server on 127.0.0.1 (an ephemeral port), the
bundled model on OpenVINO, httpx for every status code, a load test, and headless Chromium on the page.

Every result is compared byte for byte with what `edgecolor colorize` writes for the same file.
"""

from __future__ import annotations

import base64
import os
import socket
import struct
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import bundled_model, chroma, photo

pytest.importorskip("fastapi", reason="the 'serve' extra is not installed")
httpx = pytest.importorskip("httpx")

from edgecolor.errors import UsageError  # noqa: E402
from edgecolor.options import ColorizerOptions  # noqa: E402
from edgecolor.serve import FORMATS, PhotoServer, Service, upload_name  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def options() -> ColorizerOptions:
    assert bundled_model() is not None, "models/edgecolor-lite0 is missing"
    return ColorizerOptions(backend="openvino")


@pytest.fixture(scope="module")
def server(options):
    with PhotoServer(options, "127.0.0.1", 0, workers=2, queue=8).start() as s:
        yield s


@pytest.fixture(scope="module")
def client(server):
    with httpx.Client(base_url=server.url, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def photos(tmp_path_factory) -> dict[str, Path]:
    """Grey photos in the formats the server takes, and a real sample photo."""
    root = tmp_path_factory.mktemp("serve-photos")
    out = {}
    for i, (name, shape) in enumerate({"a.jpg": (120, 160), "b.png": (90, 200), "c.jpg": (200, 150)}.items()):
        out[name] = root / name
        cv2.imwrite(str(out[name]), photo(*shape, seed=i))
    grey16 = (cv2.cvtColor(photo(64, 96, seed=7), cv2.COLOR_BGR2GRAY).astype(np.uint16) * 257)
    alpha = np.full_like(grey16, 40000)
    out["d16.png"] = root / "d16.png"
    cv2.imwrite(str(out["d16.png"]), cv2.merge([grey16, grey16, grey16, alpha]))
    out["e.tif"] = root / "e.tif"
    cv2.imwrite(str(out["e.tif"]), photo(80, 60, seed=3))
    sample = cv2.imread(str(REPO / "samples" / "detroit_1915.jpg"))
    out["detroit.jpg"] = root / "detroit.jpg"
    cv2.imwrite(str(out["detroit.jpg"]), cv2.resize(sample, (640, 354), interpolation=cv2.INTER_AREA))
    return out


@pytest.fixture(scope="module")
def expected(photos, tmp_path_factory) -> dict[str, bytes]:
    """What the real `edgecolor colorize` writes for each photo (same model, backend and defaults)."""
    outdir = tmp_path_factory.mktemp("serve-cli")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p))
    env.pop("EDGECOLOR_MODELS_DIR", None)
    done = subprocess.run([sys.executable, "-m", "edgecolor", "colorize", "-b", "openvino", "-o", str(outdir),
                           *map(str, photos.values())], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    return {name: (outdir / name).read_bytes() for name in photos}


def post(client, path: Path | bytes, *, name: str | None = None, params=None, headers=None, raw: bool = False):
    data = path.read_bytes() if isinstance(path, Path) else path
    name = name or (path.name if isinstance(path, Path) else "upload")
    if raw:
        return client.post("/colorize", content=data, params={"name": name, **(params or {})}, headers=headers)
    return client.post("/colorize", files={"file": (name, data)}, params=params, headers=headers)


def assert_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert body["status"] == status
    assert "\n" not in body["error"] and "Traceback" not in body["error"]
    for word in words:
        assert word in body["error"], body
    return body


# -- 200: the result, in the input's format, as `edgecolor colorize` writes it -----------------------


@pytest.mark.parametrize("name", ["a.jpg", "b.png", "d16.png", "e.tif", "detroit.jpg"])
def test_multipart_upload_gives_colorize_bytes_in_the_same_format(client, photos, expected, name):
    r = post(client, photos[name])
    assert r.status_code == 200, r.text
    kind = {".jpg": "JPEG", ".png": "PNG", ".tif": "TIFF"}[photos[name].suffix]
    assert r.headers["content-type"] == FORMATS[kind][1]
    assert f'filename="{photos[name].stem}-colorized{FORMATS[kind][0]}"' in r.headers["content-disposition"]
    assert r.content == expected[name]


def test_raw_body_and_depth_and_alpha_kept(client, photos, expected):
    r = post(client, photos["d16.png"], raw=True)
    assert r.status_code == 200, r.text
    assert r.content == expected["d16.png"]
    out = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_UNCHANGED)
    assert out.dtype == np.uint16 and out.shape == (64, 96, 4)
    assert (out[:, :, 3] == 40000).all()


def test_real_photo_comes_back_in_colour(client, photos):
    r = post(client, photos["detroit.jpg"])
    out = cv2.imdecode(np.frombuffer(r.content, np.uint8), cv2.IMREAD_COLOR)
    assert out.shape[:2] == (354, 640)
    assert chroma(out).mean() > 3.0  # the grey input has none
    assert r.headers["x-edgecolor-colour-input"] == "0"


def test_query_parameters_change_the_result(client, photos):
    grey = post(client, photos["detroit.jpg"], params={"saturation": "0"})
    vivid = post(client, photos["detroit.jpg"], params={"saturation": "2", "size": "128"})
    assert grey.status_code == vivid.status_code == 200
    g = cv2.imdecode(np.frombuffer(grey.content, np.uint8), cv2.IMREAD_COLOR)
    v = cv2.imdecode(np.frombuffer(vivid.content, np.uint8), cv2.IMREAD_COLOR)
    assert chroma(g).mean() < 1.5 < chroma(v).mean()


def test_health_info_openapi_and_page(client, server):
    assert client.get("/health").json()["status"] == "ok"
    info = client.get("/info").json()
    assert info["backend"] == "openvino" and info["precision"] == "fp32"
    assert info["model"]["name"] == "edgecolor-lite0" and info["model"]["path"].endswith(".onnx")
    assert info["options"]["max_pixels"] == 120_000_000
    api = client.get("/openapi.json").json()
    assert "/colorize" in api["paths"] and "multipart/form-data" in str(api["paths"]["/colorize"])
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "http://" not in page.text and "https://" not in page.text  # nothing from the internet
    assert 'name="viewport"' in page.text


# -- errors: JSON, one line, the CLI's reasons ---------------------------------------------------------


def test_400_not_an_image_damaged_or_empty(client, photos):
    assert_error(post(client, b"hello, not a photo\n", name="notes.txt"), 400, "notes.txt", "not an image file")
    cut = photos["a.jpg"].read_bytes()
    assert_error(post(client, cut[: len(cut) // 2], name="cut.jpg"), 400, "cut.jpg", "truncated JPEG")
    png = photos["b.png"].read_bytes()
    assert_error(post(client, png[:-40], name="cut.png", raw=True), 400, "cut.png", "truncated PNG")
    assert_error(post(client, b"", name="none.jpg", raw=True), 400, "none.jpg", "empty")
    assert_error(client.post("/colorize", files={"other": ("x.jpg", cut)}), 400, "'file'")


def test_400_bad_parameters(client, photos):
    assert_error(post(client, photos["a.jpg"], params={"saturation": "-1"}), 400, "saturation")
    assert_error(post(client, photos["a.jpg"], params={"saturation": "lots"}), 400, "saturation")
    assert_error(post(client, photos["a.jpg"], params={"size": "5000"}), 400, "size")


def test_413_pixels_refused_from_the_header_before_decoding(client, photos):
    """A PNG whose header says 30000 x 30000 (900 MP, a decompression bomb) with almost no data: 413 at once."""
    png = bytearray(photos["b.png"].read_bytes())
    png[16:24] = struct.pack(">II", 30000, 30000)
    t0 = time.perf_counter()
    body = assert_error(post(client, bytes(png), name="bomb.png"), 413, "bomb.png", "too large", "--max-pixels")
    assert time.perf_counter() - t0 < 5  # never decoded (9 GB of pixels)
    assert "30000x30000" in body["error"]


def test_413_bytes_by_length_and_while_streaming(options, photos):
    with PhotoServer(options, "127.0.0.1", 0, max_bytes=20_000).start() as s, \
            httpx.Client(base_url=s.url, timeout=60) as c:
        big = photos["detroit.jpg"].read_bytes()
        assert len(big) > 20_000
        assert_error(post(c, big, name="big.jpg", raw=True), 413, "big.jpg", "upload too large", "--max-bytes")
        assert_error(post(c, big, name="big.jpg"), 413, "too large")

        def chunks():  # no Content-Length: counted as it comes
            for i in range(0, len(big), 4096):
                yield big[i:i + 4096]

        r = c.post("/colorize", content=chunks(), params={"name": "chunked.jpg"})
        assert_error(r, 413, "chunked.jpg", "too large")
        assert post(c, photos["a.jpg"]).status_code == 200  # small ones still go through


def test_415_unsupported_image_format(client):
    ok, hdr = cv2.imencode(".hdr", np.full((8, 8, 3), 0.5, np.float32))
    assert ok
    assert_error(post(client, hdr.tobytes(), name="sky.hdr"), 415, "sky.hdr", "HDR", "not supported")
    gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;"
    assert_error(post(client, gif, name="a.gif", raw=True), 415, "GIF")


def test_503_when_the_queue_is_full(options, photos, tmp_path):
    """One worker, no queue: while a slow photo runs, the next request is turned away at once with Retry-After."""
    slow = tmp_path / "slow.png"
    cv2.imwrite(str(slow), cv2.resize(cv2.imread(str(photos["detroit.jpg"])), (1600, 885)))
    with PhotoServer(options, "127.0.0.1", 0, workers=1, queue=0).start() as s, \
            httpx.Client(base_url=s.url, timeout=120) as c:
        first = {}
        t = threading.Thread(target=lambda: first.update(r=post(c, slow, params={"size": "1024"})))
        t.start()
        deadline = time.monotonic() + 60
        while c.get("/health").json()["in_flight"] == 0:
            assert time.monotonic() < deadline and t.is_alive(), "the slow photo never started"
            time.sleep(0.002)
        busy = post(c, photos["a.jpg"])
        t.join()
        assert_error(busy, 503, "a.jpg", "busy")
        assert busy.headers["retry-after"] == "1"
        assert first["r"].status_code == 200  # the photo that held the worker was not disturbed
        assert post(c, photos["a.jpg"]).status_code == 200  # and the worker is free again
        assert s.service.counts.busy == 1


def test_a_slow_upload_holds_no_worker_and_a_stalled_one_is_dropped(options, photos):
    """One worker, no queue: a client that stalls half-way through its upload does not block the next photo,
    and after the idle timeout it gets 408."""
    with PhotoServer(options, "127.0.0.1", 0, workers=1, queue=0, upload_timeout=1.5).start() as s, \
            httpx.Client(base_url=s.url, timeout=60) as c, socket.create_connection(("127.0.0.1", s.port)) as slow:
        slow.sendall(b"POST /colorize?name=slow.jpg HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Content-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n" + b"\xff\xd8" + b"\0" * 500)
        t0 = time.perf_counter()
        assert post(c, photos["a.jpg"]).status_code == 200
        slow.settimeout(30)
        answer = ""
        while not answer.endswith("}"):  # the headers and the JSON body may come in separate packets
            chunk = slow.recv(65536).decode("latin-1")
            assert chunk, answer
            answer += chunk
        assert answer.startswith("HTTP/1.1 408"), answer
        assert "slow.jpg: the upload stalled" in answer
        assert time.perf_counter() - t0 >= 1.0


def test_token_401_403_and_open_health(options, photos, expected):
    with PhotoServer(options, "127.0.0.1", 0, token="s3cret-token").start() as s, \
            httpx.Client(base_url=s.url, timeout=60) as c:
        r = post(c, photos["a.jpg"])
        assert_error(r, 401, "bearer token")
        assert r.headers["www-authenticate"].startswith("Bearer")
        assert_error(post(c, photos["a.jpg"], headers={"Authorization": "Bearer wrong"}), 403, "wrong token")
        assert_error(post(c, photos["a.jpg"], headers={"Authorization": "Basic czNjcmV0"}), 401)
        assert_error(c.get("/info"), 401)
        good = post(c, photos["a.jpg"], headers={"Authorization": "Bearer s3cret-token"})
        assert good.status_code == 200 and good.content == expected["a.jpg"]
        assert c.get("/health").status_code == 200 and c.get("/").status_code == 200  # no secrets there


def test_host_header_check(server, options):
    """A page on another name (DNS rebinding) gets 403; localhost names, the address and --allow-host pass."""
    with httpx.Client(timeout=30) as c:
        url = f"{server.url}health"
        assert_error(c.get(url, headers={"Host": "attacker.example"}), 403, "attacker.example", "--allow-host")
        assert_error(c.get(url, headers={"Host": f"attacker.example:{server.port}"}), 403)
        for host in (f"localhost:{server.port}", f"127.0.0.1:{server.port}", "app.localhost"):
            assert c.get(url, headers={"Host": host}).status_code == 200, host
    with PhotoServer(options, "127.0.0.1", 0, allow_hosts=["photos.lan"]).start() as s, httpx.Client() as c:
        assert c.get(f"{s.url}health", headers={"Host": "photos.lan:7000"}).status_code == 200
        assert c.get(f"{s.url}health", headers={"Host": "other.lan"}).status_code == 403


def test_unknown_path_and_method_are_json(client):
    assert_error(client.get("/nope"), 404)
    assert_error(client.get("/colorize"), 405)


def test_upload_names_are_tidied():
    assert upload_name("../../etc/passwd") == "passwd"
    assert upload_name("C:\\photos\\gran\"ma\r\n.jpg") == "gran_ma__.jpg"
    assert upload_name(None) == upload_name("") == upload_name("..") == "upload"


def test_service_checks_its_bounds(options):
    with pytest.raises(UsageError, match="workers"):
        Service(options, workers=0)
    with pytest.raises(UsageError, match="queue"):
        Service(options, queue=-1)


# -- load and browser ------------------------------------------------------------------------------


@pytest.mark.slow
def test_load_8_clients_no_failures_no_mix_ups(client, photos, expected):
    """8 clients x 50 requests at once (~20/s on a shared 2-core box): every answer 200 and the bytes of ITS photo."""
    names = ["a.jpg", "b.png", "c.jpg", "e.tif"]
    datas = {n: photos[n].read_bytes() for n in names}
    wrong: list[str] = []
    statuses: list[int] = []

    def run_client(k: int) -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=120) as c:
            for j in range(50):
                name = names[(k + j) % len(names)]
                r = c.post("/colorize", files={"file": (name, datas[name])})
                statuses.append(r.status_code)
                if r.status_code != 200 or r.content != expected[name]:
                    wrong.append(f"client {k} request {j} {name}: {r.status_code} {r.text[:100]!r}")

    threads = [threading.Thread(target=run_client, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(statuses) == 400
    assert not wrong, wrong[:5]


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed (scripts/test.sh does)")
def test_page_in_headless_chromium(server, photos, expected, tmp_path):
    """Drop two photos on the page (desktop) or pick one (phone): each colorized result appears beside its
    original with a slider and a download link whose bytes are `edgecolor colorize`'s; screenshots are saved."""
    sync_api = pytest.importorskip("playwright.sync_api")
    shots = Path(os.environ.get("EDGECOLOR_SHOTS", tmp_path))
    shots.mkdir(parents=True, exist_ok=True)
    dropped = {n: base64.b64encode(photos[n].read_bytes()).decode() for n in ("detroit.jpg", "c.jpg")}
    card = "(name) => [...document.querySelectorAll('.card')].find(c => c.querySelector('.name').textContent === name)"
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        try:
            for label, viewport in (("desktop", {"width": 1100, "height": 800}),
                                    ("phone", {"width": 390, "height": 844})):
                page = browser.new_page(viewport=viewport)
                page.goto(server.url)
                if label == "desktop":
                    transfer = page.evaluate_handle("""(files) => {
                        const dt = new DataTransfer();
                        for (const [name, b64] of Object.entries(files))
                            dt.items.add(new File([Uint8Array.from(atob(b64), c => c.charCodeAt(0))], name,
                                                  { type: "image/jpeg" }));
                        return dt;
                    }""", dropped)
                    page.dispatch_event("#drop", "drop", {"dataTransfer": transfer})
                    names = list(dropped)
                else:
                    page.set_input_files("#pick", str(photos["detroit.jpg"]))
                    names = ["detroit.jpg"]
                page.wait_for_function(f"document.querySelectorAll('.card[data-done=\"1\"]').length === {len(names)}",
                                       timeout=60_000)
                for name in names:
                    after = page.evaluate(f"""async (name) => {{
                        const card = ({card})(name), img = card.querySelector('img.after');
                        await img.decode();
                        const link = card.querySelector('a.download');
                        const buf = await (await fetch(link.href)).arrayBuffer();
                        let s = ""; for (const b of new Uint8Array(buf)) s += String.fromCharCode(b);
                        return {{ size: [img.naturalWidth, img.naturalHeight], download: link.download, b64: btoa(s) }};
                    }}""", name)
                    want = cv2.imread(str(photos[name])).shape[1::-1]
                    assert after["size"] == list(want)
                    assert after["download"] == f"{Path(name).stem}-colorized.jpg"
                    assert base64.b64decode(after["b64"]) == expected[name]
                slider = page.locator(".card", has_text="detroit.jpg").locator("input[type=range]")
                slider.fill("30")  # the slider moves the cut between before and after
                cut = page.evaluate(f"getComputedStyle(({card})('detroit.jpg').querySelector('.compare'))"
                                    ".getPropertyValue('--cut')")
                assert cut.strip() == "30%"
                page.screenshot(path=str(shots / f"serve-page-{label}.png"), full_page=True)
                wide = page.evaluate("document.documentElement.scrollWidth")
                assert wide <= viewport["width"]  # no sideways scrolling on a phone
                page.close()
        finally:
            browser.close()
    shot = cv2.imread(str(shots / "serve-page-desktop.png"))
    assert shot is not None and chroma(shot).max() > 10  # colour on screen

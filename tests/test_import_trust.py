"""`edgecolor import` against hostile files: no code runs, no crash, no hang, bounded memory, one line.

Every file is a few hundred bytes written here (tests/hostile_weights.py). The command runs in a
child process under a 2 GB address-space limit and a timeout, so a regression shows up as a failed
assertion (a traceback, a segfault's -11, a timeout), never as a dead test run; those runs are
marked slow (a few seconds each).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnx")
pytest.importorskip("onnxsim")

import hostile_weights as H  # noqa: E402
from cli.cli_support import ERROR, REPO, errors  # noqa: E402

LIMIT_AS = 2 << 30  # bytes of address space the importing process may take (it needs < 1.5 GB)

CHILD = """
import resource, sys
resource.setrlimit(resource.RLIMIT_AS, ({limit}, {limit}))
from edgecolor.cli import main
main(sys.argv[1:])
"""


def run_import(tmp_path: Path, *args: object, timeout: float = 120, limit: int = LIMIT_AS, wait: bool = True):
    """`edgecolor import ARGS` in a child with bounded memory, models into tmp_path/models."""
    env = dict(os.environ, EDGECOLOR_MODELS=str(tmp_path / "models"))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    cmd = [sys.executable, "-c", CHILD.format(limit=limit), "import", *map(str, args)]
    if not wait:
        return subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    return subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=timeout)


def assert_refused(res, match: str, code: int = 2) -> str:
    """Exit ``code``, exactly one error line (matching ``match``), no traceback, nothing installed."""
    assert res.returncode == code, (res.returncode, res.stderr[-2000:])
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    lines = errors(res.stderr)
    assert len(lines) == 1, res.stderr
    assert re.search(match, lines[0]), lines[0]
    return lines[0]


def nothing_installed(tmp_path: Path) -> bool:
    d = tmp_path / "models"
    return not d.exists() or not any(d.iterdir())


# -- 1. no code from a pickle ------------------------------------------------------------------------


@pytest.mark.slow
def test_legacy_pickle_header_never_runs_code(tmp_path):
    marker = tmp_path / "MARKER"
    evil = tmp_path / "x.pth"
    evil.write_bytes(H.code_running_pickle(f"touch {marker}"))
    res = run_import(tmp_path, "eccv16", evil)
    assert_refused(res, r"x\.pth: .*(posix|os)\.system")
    assert not marker.exists()
    assert nothing_installed(tmp_path)


@pytest.mark.slow
def test_legacy_state_dict_pickle_never_runs_code(tmp_path):
    """The code sits in the state dict's pickle, after a valid legacy header."""
    marker = tmp_path / "MARKER"
    evil = H.legacy_pth(tmp_path / "y.pth", H.code_running_pickle(f"touch {marker}"), [], [])
    res = run_import(tmp_path, "eccv16", evil)
    assert_refused(res, r"y\.pth: .*(posix|os)\.system")
    assert not marker.exists()


@pytest.mark.slow
def test_zip_pickle_never_runs_code(tmp_path):
    marker = tmp_path / "MARKER"
    evil = H.zip_pth(tmp_path / "z.pth", H.code_running_pickle(f"touch {marker}"), {})
    res = run_import(tmp_path, "eccv16", evil)
    assert_refused(res, r"z\.pth: .*(posix|os)\.system")
    assert not marker.exists()


# -- 2, 5, 12. tensor geometry against the storage -----------------------------------------------------

GEOMETRY = {  # name: (size, stride, offset, storage values) -> the reason in the message
    "size beyond a 4-byte storage": ((200_000_000,), (1,), 0, 1, r"claims 200000000 values over a storage of 1"),
    "stride 1e9": ((10,), (10**9,), 0, 10, r"reaches value 9000000000 of a storage of 10"),
    "negative stride": ((10,), (-10**6,), 0, 10, r"-1000000 is negative"),
    "offset beyond the storage": ((10,), (1,), 10**6, 10, r"reaches value 1000009 of a storage of 10"),
    "stride-0 expansion to 1.5e9 floats": ((1_500_000_000,), (0,), 0, 1, r"claims 1500000000 values"),
    "1e6 x 1e6": ((10**6, 10**6), (10**6, 1), 0, 1, r"claims 1000000000000 values"),
    "negative offset": ((2,), (1,), -1, 10, r"-1 is negative"),
    "sizes and strides differ in length": ((2, 2), (1,), 0, 10, r"2 dimensions with 1 strides"),
}


@pytest.mark.parametrize("case", list(GEOMETRY))
@pytest.mark.slow
def test_tensor_geometry_is_checked_against_the_storage(tmp_path, case):
    size, stride, offset, numel, reason = GEOMETRY[case]
    path = H.tensor_pth(tmp_path / "t.pth", size, stride, offset, b"\0" * 4 * numel)
    assert path.stat().st_size < 1000
    res = run_import(tmp_path, "eccv16", path)
    assert_refused(res, r"t\.pth: .*" + reason)
    assert nothing_installed(tmp_path)


@pytest.mark.slow
def test_legacy_tensor_geometry_and_storage_counts_are_checked(tmp_path):
    pkl = H.state_dict_pickle({"w": H.tensor_ops("0", 0, (10,), (10**9,), 10, legacy=True)})
    res = run_import(tmp_path, "eccv16", H.legacy_pth(tmp_path / "a.pth", pkl, ["0"], [(10, b"\0" * 40)]))
    assert_refused(res, r"a\.pth: .*reaches value 9000000000 of a storage of 10")
    pkl = H.state_dict_pickle({"w": H.tensor_ops("0", 0, (10,), (1,), 10, legacy=True)})
    res = run_import(tmp_path, "eccv16", H.legacy_pth(tmp_path / "b.pth", pkl, ["0"], [(2**61, b"\0" * 40)]))
    assert_refused(res, r"b\.pth: .*file ends inside a tensor")
    res = run_import(tmp_path, "eccv16", H.legacy_pth(tmp_path / "c.pth", pkl, ["0"], [(-5, b"\0" * 40)]))
    assert_refused(res, r"c\.pth: .*file ends inside a tensor")


@pytest.mark.parametrize("attr", ["storage", "offset", "size", "stride", "array", "numel"])
@pytest.mark.slow
def test_pickle_build_cannot_swap_a_tensors_fields(tmp_path, attr):
    build = b"}" + H._str(attr) + b"ccollections\nOrderedDict\n)R" + b"s" + b"b"  # BUILD {attr: OrderedDict()}
    pkl = H.state_dict_pickle({"w": H.tensor_ops("0", 0, (1,), (1,), 1) + build})
    res = run_import(tmp_path, "eccv16", H.zip_pth(tmp_path / "b.pth", pkl, {"0": b"\0" * 4}))
    assert_refused(res, r"b\.pth: .*unexpected BUILD")


@pytest.mark.slow
def test_pickle_build_on_the_state_dict_is_one_line(tmp_path):
    """BUILD on the OrderedDict itself (torch uses it for ``_metadata``): harmless state is read; a state
    that cannot apply is one line."""
    state = b"(}" + b"}" + H._str("__class__") + b"ccollections\nOrderedDict\ns" + b"tb"  # (None-ish, slots)
    pkl = H.state_dict_pickle({"w": H.tensor_ops("0", 0, (1,), (1,), 1)}, extra=state)
    res = run_import(tmp_path, "eccv16", H.zip_pth(tmp_path / "d.pth", pkl, {"0": b"\0" * 4}))
    assert_refused(res, r"d\.pth: ")


@pytest.mark.parametrize("layout", ["zip", "legacy"])
@pytest.mark.slow
def test_pickle_opcodes_cannot_claim_memory(tmp_path, layout):
    """The C unpickler sizes a bytearray8 and the memo by the number the opcode claims, before reading:
    a 14-byte pickle could ask for a terabyte. The opcodes are walked first."""
    claims = {"bytearray": (b"\x80\x05\x96" + (1 << 40).to_bytes(8, "little") + b"xx.", r"bytearray8"),
              "memo": (b"\x80\x02K\x01r" + (2**32 - 1).to_bytes(4, "little") + b".", r"memo index 4294967295")}
    for name, (pkl, reason) in claims.items():
        path = tmp_path / f"{name}.pth"
        H.zip_pth(path, pkl, {}) if layout == "zip" else path.write_bytes(pkl)
        assert_refused(run_import(tmp_path, "eccv16", path), rf"{name}\.pth: .*{reason}")


def _bomb(path: Path, inflated: int) -> Path:
    """A zip .pth whose storage entry inflates from about a thousandth of ``inflated`` bytes of zeros."""
    pkl = H.state_dict_pickle({"w": H.tensor_ops("0", 0, (1,), (1,), 1)})
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.writestr("archive/data.pkl", pkl)
        with z.open("archive/data/0", "w", force_zip64=True) as f:
            chunk = bytes(16 << 20)
            for _ in range(inflated // len(chunk)):
                f.write(chunk)
    return path


@pytest.mark.slow
@pytest.mark.slow
def test_zip_bomb_is_refused_before_inflating(tmp_path):
    path = _bomb(tmp_path / "bomb.pth", 1536 << 20)
    assert path.stat().st_size < 3 << 20
    res = run_import(tmp_path, "eccv16", path)
    assert_refused(res, r"bomb\.pth: .*inflates to 1610612736 bytes")


@pytest.mark.slow
def test_zip_entry_sizes_are_checked_against_the_archive(tmp_path):
    path = H.tensor_pth(tmp_path / "t.pth", (1,), (1,), 0, b"\0" * 4)
    data = bytearray(path.read_bytes())
    cd = data.rindex(b"PK\x01\x02")  # the storage entry's central-directory record: claim 1 GB inflated
    data[cd + 20:cd + 28] = (1 << 30).to_bytes(4, "little") * 2
    path.write_bytes(bytes(data))
    res = run_import(tmp_path, "eccv16", path)
    assert_refused(res, r"t\.pth: .*(claims 1073741824 bytes|inflates)")


# -- 4, 5, 12. ONNX -------------------------------------------------------------------------------------


@pytest.mark.slow
def test_onnx_with_a_loop_is_refused_unrun(tmp_path):
    path = H.loop_onnx(tmp_path / "loop.onnx")
    assert path.stat().st_size < 600
    t0 = time.monotonic()
    res = run_import(tmp_path, "eccv16", path, timeout=60)
    assert_refused(res, r"loop\.onnx: a Loop node \(control flow\)")
    assert time.monotonic() - t0 < 60
    assert nothing_installed(tmp_path)


@pytest.mark.parametrize("dims, reason", [
    ((1, 1, 16000, 16000), r"a dimension of 16000; .*at most 1024"),
    ((1, 1, 100000, 100000), r"a dimension of 100000"),
    ((1, 1, -5, 32), r"a dimension of -5"),
    ((7, 1, 32, 32), r"a batch of 7"),
])
@pytest.mark.slow
def test_onnx_input_sizes_are_bounded_before_the_graph_runs(tmp_path, dims, reason):
    from onnx import helper

    path = tmp_path / "big.onnx"
    import onnx

    onnx.save(H.onnx_model([helper.make_node("Identity", ["L"], ["ab"])], in_dims=dims, out_dims=(1, 2, 32, 32)),
              str(path))
    assert path.stat().st_size < 300
    res = run_import(tmp_path, "eccv16", path)
    assert_refused(res, r"big\.onnx: .*" + reason)


@pytest.mark.slow
def test_onnx_tensors_that_outgrow_the_check_are_refused(tmp_path):
    """A Resize by 10^4 (800 TB at the check size) and an initializer claiming 10^10 values it does not hold."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    scales = numpy_helper.from_array(np.array([1, 1, 1e4, 1e4], np.float32), "scales")
    w = numpy_helper.from_array(np.full((2, 1, 1, 1), 0.1, np.float32), "w")
    nodes = [helper.make_node("Conv", ["L", "w"], ["x"], kernel_shape=[1, 1]),
             helper.make_node("Resize", ["x", "", "scales"], ["big"], mode="nearest"),
             helper.make_node("Relu", ["big"], ["ab"])]  # not the final resize that import bypasses
    onnx.save(H.onnx_model(nodes, [w, scales], out_dims=(1, 2, "h", "w")), str(tmp_path / "resize.onnx"))
    res = run_import(tmp_path, "eccv16", tmp_path / "resize.onnx")
    assert_refused(res, r"resize\.onnx: tensor (big|ab) would be 1x2x320000x320000")
    claim = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[100000, 100000])  # and no data
    nodes = [helper.make_node("Conv", ["L", "w"], ["ab"], kernel_shape=[1, 1])]
    onnx.save(H.onnx_model(nodes, [claim]), str(tmp_path / "claim.onnx"))
    res = run_import(tmp_path, "eccv16", tmp_path / "claim.onnx")
    assert_refused(res, r"claim\.onnx: tensor w claims 10000000000 values")


@pytest.mark.slow
def test_onnx_sizes_that_depend_on_values_are_refused_unrun(tmp_path):
    """A Range whose length is computed from the input (8 GB of floats at the check's 32x32 L): shape
    inference cannot bound it, so it is refused rather than run."""
    import onnx
    from onnx import helper, numpy_helper

    consts = [numpy_helper.from_array(np.full((2, 1, 4, 4), 0.05, np.float32), "w"),
              numpy_helper.from_array(np.array(0, np.float32), "s"),
              numpy_helper.from_array(np.array(1, np.float32), "d"),
              numpy_helper.from_array(np.array(40000.0, np.float32), "k")]  # x the sum of L (about 51200)
    nodes = [helper.make_node("Conv", ["L", "w"], ["x"], kernel_shape=[4, 4], strides=[4, 4]),
             helper.make_node("ReduceSum", ["L"], ["sum"], keepdims=0),
             helper.make_node("Mul", ["sum", "k"], ["limit"]),
             helper.make_node("Range", ["s", "limit", "d"], ["r"]),
             helper.make_node("ReduceSum", ["r"], ["rs"], keepdims=0),
             helper.make_node("Mul", ["x", "rs"], ["ab"])]
    onnx.save(H.onnx_model(nodes, consts, (1, 1, 32, 32), (1, 2, 8, 8)), str(tmp_path / "range.onnx"))
    res = run_import(tmp_path, "eccv16", tmp_path / "range.onnx")
    assert_refused(res, r"range\.onnx: the size of Range output r depends on the values it computes")


@pytest.mark.slow
def test_onnx_external_data_is_never_read(tmp_path):
    import onnx
    from onnx import TensorProto, helper

    secret = tmp_path / "secret.bin"
    secret.write_bytes(np.full(2, 0.5, np.float32).tobytes())
    w = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[2, 1, 1, 1])
    w.data_location = TensorProto.EXTERNAL
    w.external_data.add(key="location", value="secret.bin")
    nodes = [helper.make_node("Conv", ["L", "w"], ["ab"], kernel_shape=[1, 1])]
    onnx.save(H.onnx_model(nodes, [w]), str(tmp_path / "ext.onnx"))
    res = run_import(tmp_path, "eccv16", tmp_path / "ext.onnx")
    assert_refused(res, r"ext\.onnx: tensor w is in an external data file")


@pytest.mark.slow
def test_tiny_eccv_like_onnx_still_imports(tmp_path):
    """The checks refuse hostile graphs, not the export's shape: a 32x32 conv + x4 Resize imports."""
    res = run_import(tmp_path, "eccv16", H.eccv_like_onnx(tmp_path / "ok.onnx"), "--name", "tiny")
    assert res.returncode == 0, res.stderr
    assert (tmp_path / "models" / "tiny" / "tiny-fp32.onnx").is_file()


# -- 4, 5. FIFOs, devices, endless text -------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("option", ["weights", "--prototxt", "--hull"])
@pytest.mark.slow
def test_fifo_is_refused_unopened(tmp_path, option):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    weights = fifo if option == "weights" else H.tensor_pth(tmp_path / "w.pth", (1,), (1,))
    extra = [] if option == "weights" else [option, fifo]
    res = run_import(tmp_path, "eccv16", weights, *extra, timeout=60)
    assert_refused(res, r"fifo: a FIFO, not a regular file")


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="no /dev/zero")
@pytest.mark.slow
def test_endless_device_as_prototxt_is_refused(tmp_path):
    res = run_import(tmp_path, "eccv16", H.tensor_pth(tmp_path / "w.pth", (1,), (1,)), "--prototxt", "/dev/zero",
                     timeout=60)
    assert_refused(res, r"/dev/zero: a device or socket, not a regular file")


# -- 12. Caffe side: prototxt, anneal blob, hull ----------------------------------------------------------


@pytest.fixture(scope="module")
def caffemodel(tmp_path_factory) -> Path:
    pytest.importorskip("torch")
    import import_support as S

    d = tmp_path_factory.mktemp("caffe")
    return S.write_caffemodel(S.eccv16_state(8, seed=2, affine_bn=False), d / "small.caffemodel")


@pytest.mark.slow
def test_deeply_nested_or_huge_prototxt_is_one_line(tmp_path, caffemodel):
    deep = tmp_path / "deep.prototxt"
    deep.write_text("layer { " * 20000 + "}" * 20000)
    assert_refused(run_import(tmp_path, "eccv16", caffemodel, "--prototxt", deep), r"deep\.prototxt: .*nested 20000")
    big = tmp_path / "big.prototxt"
    with open(big, "wb") as f:
        f.truncate(64 << 20)
    assert_refused(run_import(tmp_path, "eccv16", caffemodel, "--prototxt", big), r"big\.prototxt: larger than 4 MB")


@pytest.mark.slow
def test_wrong_length_anneal_blob_is_one_line(tmp_path, caffemodel):
    from edgecolor.importers.caffe import messages

    net = messages()["NetParameter"]()
    net.ParseFromString(caffemodel.read_bytes())
    blob = next(lay for lay in net.layer if lay.name == "conv8_313_rh").blobs[0]
    del blob.data[5:]
    del blob.shape.dim[:]
    blob.shape.dim.append(5)
    path = tmp_path / "anneal.caffemodel"
    path.write_bytes(net.SerializeToString())
    assert_refused(run_import(tmp_path, "eccv16", path), r"anneal\.caffemodel: layer conv8_313_rh holds 5 values")


@pytest.mark.slow
def test_hull_header_is_checked_before_reading(tmp_path, caffemodel):
    hull = tmp_path / "hull.npy"
    with open(hull, "wb") as f:
        np.lib.format.write_array_header_1_0(f, {"descr": "<f8", "fortran_order": False, "shape": (10**12, 2)})
        f.write(b"\0" * 64)
    assert hull.stat().st_size < 300
    res = run_import(tmp_path, "eccv16", caffemodel, "--hull", hull)
    assert_refused(res, r"hull\.npy: shape \(1000000000000, 2\); pts_in_hull\.npy holds 313")


@pytest.mark.slow
def test_caffe_blob_with_negative_dims_is_one_line(tmp_path, caffemodel):
    from edgecolor.importers.caffe import messages

    net = messages()["NetParameter"]()
    net.ParseFromString(caffemodel.read_bytes())
    blob = next(lay for lay in net.layer if lay.name == "conv1_1").blobs[1]
    n = len(blob.data)
    del blob.shape.dim[:]
    blob.shape.dim.extend([-1, -n])
    path = tmp_path / "neg.caffemodel"
    path.write_bytes(net.SerializeToString())
    assert_refused(run_import(tmp_path, "eccv16", path), r"neg\.caffemodel: layer conv1_1: .*negative")


# -- 12. names and leftovers -----------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x" * 300, "a/b", ".hidden", "-dash", "two words", "new\nline", "é"])
@pytest.mark.slow
def test_unusable_name_is_one_line(tmp_path, name):
    res = run_import(tmp_path, "eccv16", H.tensor_pth(tmp_path / "w.pth", (1,), (1,)), "--name", name)
    assert_refused(res, r"not a usable model name")
    assert "x" * 41 not in res.stderr  # a long name is shortened in the message


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_staging_folders_of_killed_imports_are_swept(tmp_path):
    from edgecolor.atomic import host_tag
    from edgecolor.importers.importer import remove_stale_imports

    dest = tmp_path / "models"
    dest.mkdir()
    dead, host = _dead_pid(), host_tag()
    stale = dest / f".import-eccv16-ec{host}-{dead}-abcd1234"
    live = dest / f".import-eccv16-ec{host}-{os.getpid()}-abcd1234"
    other_host = dest / f".import-eccv16-ec{'0000' if host != '0000' else '1111'}-{dead}-abcd1234"
    not_ours = [dest / ".import-notes", dest / ".importer", dest / "eccv16"]
    for d in [stale, live, other_host, *not_ours]:
        d.mkdir()
        (d / "f").write_bytes(b"x")
    a_file = dest / f".import-x-ec{host}-{dead}-abcd1234"
    (a_file.parent / a_file.name).write_bytes(b"")  # a file of that name: not a staging folder
    moved = dest / f".old-siggraph17-ec{host}-{dead}"  # killed between _install's two renames
    moved.mkdir()
    (moved / "card.json").write_text("{}")
    said: list[str] = []
    assert remove_stale_imports(dest, said.append) == [stale]
    assert not stale.exists()
    assert all(p.exists() for p in [live, other_host, *not_ours, a_file])
    assert (dest / "siggraph17" / "card.json").is_file() and not moved.exists()
    assert any("restored" in s for s in said)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["kill", "interrupt"])
@pytest.mark.slow
def test_killed_or_interrupted_import(tmp_path, how):
    """kill -9 while the staging folder is written: the next import sweeps it. Ctrl-C: exit 130, one line,
    no staging folder left."""
    pytest.importorskip("torch")
    import import_support as S

    weights = S.write_pth(S.eccv16_state(8), tmp_path / "w.pth")
    dest = tmp_path / "models"
    proc = run_import(tmp_path, "eccv16", weights, wait=False)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if dest.is_dir() and any(p.name.startswith(".import-") for p in dest.iterdir()):
            break
        time.sleep(0.005)
    assert proc.poll() is None, proc.communicate()
    proc.send_signal(signal.SIGKILL if how == "kill" else signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    left = [p for p in dest.iterdir() if p.name.startswith(".import-")]
    if how == "interrupt":
        assert proc.returncode == 130, err
        assert errors(err) == [f"{ERROR}{weights}: interrupted; nothing was imported"], err
        assert "Traceback" not in err
        assert not left
        return
    assert proc.returncode == -signal.SIGKILL and len(left) == 1
    res = run_import(tmp_path, "eccv16", weights)
    assert res.returncode == 0, res.stderr
    assert sorted(p.name for p in dest.iterdir()) == ["eccv16"]
    assert f"removed {left[0]}: left by an interrupted import" in res.stdout

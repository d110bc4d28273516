"""``edgecolor import``: published weights -> an edgecolor model folder (ONNX FP32 + IR FP16 [+ INT8]).

The weights file is told apart by content: a zip or a pickle stream is a PyTorch state dict, a
protobuf with an ONNX graph is an ONNX model, a protobuf with Caffe layers is a .caffemodel. The
network is rebuilt from the paper's layer table (nets.py) with those weights, or, for the
third-party ONNX export, kept as it is. Everything is written into a hidden staging folder next to
the destination and renamed into place at the end, so a failure leaves nothing behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgecolor.atomic import host_tag
from edgecolor.contract import ModelContract
from edgecolor.errors import BackendError, EdgecolorError, ModelError, OutputError, UsageError
from edgecolor.importers import guard

ARCHS = ("eccv16", "siggraph17")
SIZE_MULTIPLE = 8  # three stride-2 steps
VERSION = "published"
CHECK_SIZE = (64, 96)  # the imported graph is run once at this size before it is installed
# sha256 of the published files (Open Model Zoo's model.yml for colorization-v2 and colorization-siggraph);
# the colorizers package names its .pth files with the first 8 digits.
PUBLISHED = {
    "f5af1e602646328c792e1094f9876fe9cd4c09ac46fa886e5708a1abc89137b1": "colorization_release_v2.caffemodel",
    "9b330a0bae53f4ded77b1e23defbf78beaa09c10ebc4c4999e8e4f4a160b93f9": "colorization_release_v2-9b330a0b.pth",
    "df00044c0a4d7c3edcecf6f75437ce346a66e7a42612d9b968e1a7e17dbc6f66": "siggraph17-df00044c.pth",
}
FORMAT_NAMES = {"pth": "a PyTorch state dict", "onnx": "an ONNX model", "caffe": "a Caffe model"}
MAX_NAME = 64  # characters of a model name (a folder name: file systems allow 255 bytes)
_NAME = re.compile(rf"[A-Za-z0-9][A-Za-z0-9_-]{{0,{MAX_NAME - 1}}}", re.ASCII)
CONVERT_HINT = "edgecolor import needs the convert extra: pip install 'edgecolor[convert]' (onnx, onnxsim, nncf)"


@dataclass
class ImportResult:
    """What was written, from what, and (with --int8) what the quality gate saw."""

    name: str
    folder: Path
    source_format: str
    files: list[Path]
    contract: ModelContract
    gate: dict | None = None
    notes: list[str] = field(default_factory=list)


def require_convert() -> None:
    """The one-line error when onnx/onnxsim are missing (the runtime install does not have them)."""
    import importlib.util

    try:
        import onnx  # noqa: F401

        found = importlib.util.find_spec("onnxsim") is not None  # imported when used: it takes seconds
    except (ImportError, ValueError):
        found = False
    if not found:
        raise BackendError(CONVERT_HINT)


# -- telling the formats apart -----------------------------------------------------------------


def sniff(path: Path) -> str:
    """'pth', 'onnx' or 'caffe', from the file's bytes (never its name)."""
    with guard.open_regular(path, "weights file") as f:
        size = os.fstat(f.fileno()).st_size
        head = f.read(64)
    if size == 0:
        raise ModelError(f"{path}: empty file")
    if head.startswith(b"PK\x03\x04"):
        return "pth"
    if head[:1] == b"\x80" and 2 <= head[1] <= 5:  # a pickle stream: PyTorch's legacy .pth layout
        return "pth"
    stripped = head.lstrip()
    if stripped[:1].isalpha() or stripped[:1] == b"#":
        if b"layer" in head or b"name" in head or b"input" in head:
            raise ModelError(f"{path}: a text prototxt describes the network only; give the .caffemodel "
                                 "(and this file with --prototxt)")
        raise ModelError(f"{path}: a text file; expected a .caffemodel, a .pth state dict or an ONNX model")
    from edgecolor.modelfile import _fields

    seen: set[tuple[int, int]] = set()
    try:
        with guard.open_regular(path, "weights file") as f:
            for number, wire, _value in _fields(f, size):
                seen.add((number, wire))
    except ValueError:
        raise ModelError(f"{path}: truncated or not a model file (not a .caffemodel, .pth or ONNX)") from None
    if (7, 2) in seen:  # ModelProto.graph; in Caffe's NetParameter, field 7 is a bool
        return "onnx"
    if (100, 2) in seen or (2, 2) in seen:  # NetParameter.layer / .layers
        return "caffe"
    raise ModelError(f"{path}: not a .caffemodel, .pth state dict or ONNX model")


# -- building the ONNX graph -------------------------------------------------------------------


def _contract(name: str, arch: str, **fields) -> ModelContract:
    base = dict(name=name, version=f"{arch}-{VERSION}", precision="fp32", input_name="L", output_name="ab",
                size_multiple=SIZE_MULTIPLE)
    base.update(fields)
    return ModelContract(**base)


def _load_hull(path: Path) -> np.ndarray:
    """pts_in_hull.npy: its header (shape, type) is checked before the array is read; never a pickle."""
    fmt = np.lib.format
    with guard.open_regular(path, "hull file") as f:
        try:
            version = fmt.read_magic(f)
            read_header = fmt.read_array_header_1_0 if version == (1, 0) else fmt.read_array_header_2_0
            shape, _fortran, dtype = read_header(f)
            if shape != (313, 2):
                raise ModelError(f"{path}: shape {shape}; pts_in_hull.npy holds 313 ab bin centres (313, 2)")
            if dtype.kind not in "fiu":
                raise ModelError(f"{path}: holds {dtype}; pts_in_hull.npy holds numbers")
            f.seek(0)
            hull = np.load(f, allow_pickle=False)
        except ModelError:
            raise
        except (OSError, ValueError, EOFError, TypeError, SyntaxError) as e:
            reason = (str(e).splitlines() or [type(e).__name__])[0][:120]
            raise ModelError(f"{path}: not a .npy array ({reason})") from None
    if not np.isfinite(hull).all():
        raise ModelError(f"{path}: holds NaN or infinite bin centres")
    return hull.astype(np.float32)


def build(arch: str, weights: Path, name: str, prototxt: Path | None = None,
          hull: Path | None = None) -> tuple[object, ModelContract, str, list[str]]:
    """(onnx model, contract, source format, notes) for ``arch`` from a weights file."""
    from edgecolor.importers import nets

    if prototxt is not None:  # before the weights are read: a FIFO or a device is refused now, unopened
        guard.check_regular(prototxt, "prototxt")
    if hull is not None:
        guard.check_regular(hull, "hull file")
    fmt = sniff(weights)
    source = str(weights)
    notes: list[str] = []
    if fmt != "caffe" and prototxt is not None:
        raise UsageError(f"{prototxt}: --prototxt applies to a .caffemodel; {weights} is {FORMAT_NAMES[fmt]}")
    if fmt != "caffe" and hull is not None:
        raise UsageError(f"{hull}: --hull applies to a .caffemodel; {weights} is {FORMAT_NAMES[fmt]}")
    if arch == "siggraph17" and fmt != "pth":
        raise ModelError(f"{weights}: siggraph17 is imported from the colorizers state dict "
                             f"(siggraph17-df00044c.pth); this is {FORMAT_NAMES[fmt]}")

    if fmt == "onnx":
        from edgecolor.importers import onnx_export

        model = onnx_export.load(weights)
        inits = {i.name for i in model.graph.initializer}
        inp = next(i for i in model.graph.input if i.name not in inits)
        dims = [d.dim_value for d in inp.type.tensor_type.shape.dim]
        fixed = (dims[2] or 256, dims[3] or 256)
        model, factor = onnx_export.bypass_final_resize(model)
        model, stride = onnx_export.make_dynamic(model, source, fixed)
        notes.append(f"kept the third-party graph; input size {fixed[0]}x{fixed[1]} freed"
                     + (f"; its final x{factor} ab upsampling bypassed (edgecolor upsamples ab itself)"
                        if factor > 1 else "") + f"; output stride {stride}")
        contract = _contract(name, arch, input_name=inp.name, output_name=model.graph.output[0].name,
                             l_scale=1.0, l_shift=0.0, ab_scale=1.0, working_size=max(fixed),
                             size_multiple=max(SIZE_MULTIPLE, stride), output_stride=stride)
        return model, contract, fmt, notes

    if fmt == "caffe":
        from edgecolor.importers import caffe

        layers = caffe.read_caffemodel(weights)
        proto = None
        if prototxt is not None:
            proto = caffe.read_prototxt(prototxt)
            caffe.check_eccv16_prototxt(proto, str(prototxt))
        w, names = caffe.eccv16_weights(layers, source, _load_hull(hull) if hull else None)
        nets.check_weights(arch, w, source, names)
        _note_width(w, notes)
        anneal = caffe.eccv16_anneal(layers, proto, source)
        notes.append(f"Caffe deploy net: annealed mean (scale {np.mean(anneal):.3f} = 1/T) and the bin-centre "
                     "decode folded into the graph")
        model = nets.build_eccv16(w, anneal)
        # the Caffe net takes L - 50 at 224x224 and gives ab at 1/4 in CIELAB units
        contract = _contract(name, arch, l_scale=1.0, l_shift=-50.0, ab_scale=1.0, working_size=224,
                             output_stride=4)
        return model, contract, fmt, notes

    from edgecolor.importers import pth

    state = pth.read_state_dict(weights)
    w, names = pth.canonical_weights(arch, state, source)
    nets.check_weights(arch, w, source, names)
    _note_width(w, notes)
    # colorizers: input (L - 50) / 100, output ab / 110
    common = dict(l_scale=1.0 / nets.L_NORM, l_shift=-nets.L_CENT / nets.L_NORM, ab_scale=nets.AB_NORM,
                  working_size=256)
    if arch == "eccv16":
        notes.append("colorizers port: softmax then its model_out decode, in the graph, as its forward does "
                     "(no temperature of its own: any annealing the port carries is in its weights)")
        return nets.build_eccv16(w, anneal=None), _contract(name, arch, output_stride=4, **common), fmt, notes
    notes.append("automatic mode: the ab hint and mask inputs are fed empty (their conv1_1 channels dropped)")
    model = nets.build_siggraph17(w, hints=False)
    return model, _contract(name, arch, output_stride=1, hints="ab/110+mask:empty", **common), fmt, notes


def _note_width(weights: dict, notes: list[str]) -> None:
    from edgecolor.importers.nets import width_divisor

    div = width_divisor(weights)
    if div != 1:
        notes.append(f"narrow network (1/{div} of the published widths): the layer table, not the published weights")


# -- writing -----------------------------------------------------------------------------------


def finish_onnx(model, contract: ModelContract, notes: list[str]):
    """Simplify (onnxsim), put the contract in the metadata, check (onnx.checker)."""
    import onnx
    import onnxsim

    try:
        simplified, ok = onnxsim.simplify(model)
    except Exception as e:  # noqa: BLE001 - onnxsim raises anything from its C++ core
        ok, simplified = False, None
        notes.append(f"onnxsim failed ({str(e).splitlines()[0][:80]}); kept the graph unsimplified")
    if ok:
        model = simplified
    meta = contract.to_metadata()
    keep = [p for p in model.metadata_props if p.key not in meta]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)
    model.doc_string = f"{contract.version} imported by edgecolor: L in, ab out (see metadata edgecolor.*)"
    onnx.checker.check_model(model)
    return model


def check_runs(path: Path, contract: ModelContract) -> None:
    """Run the written FP32 ONNX once through OpenVINO: right output shape, finite values."""
    import openvino as ov

    h, w = CHECK_SIZE
    x = np.random.default_rng(0).uniform(0, 100, (1, 1, h, w)).astype(np.float32)
    x = x * np.float32(contract.l_scale) + np.float32(contract.l_shift)
    y = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})(x)[0]
    want = (1, 2, h // contract.output_stride, w // contract.output_stride)
    if y.shape != want or not np.isfinite(y).all():
        raise ModelError(f"{path}: the imported network gives {y.shape} (finite: {np.isfinite(y).all()}), "
                             f"expected {want}")


def save_ir(onnx_path: Path, out: Path, precision: str, model=None) -> Path:
    """ONNX (or a given openvino.Model) -> IR with the contract carried over and the precision key set."""
    import openvino as ov

    from edgecolor.contract import PREFIX, RT_INFO_SECTION

    model = model if model is not None else ov.convert_model(str(onnx_path))
    model.set_rt_info(precision, [RT_INFO_SECTION, PREFIX + "precision"])
    ov.save_model(model, str(out), compress_to_fp16=(precision == "fp16"))
    return out


def sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _check_name(name: str, dest: Path, force: bool) -> None:
    from edgecolor.models import list_models

    if not _NAME.fullmatch(name) or name in ("default",):
        shown = repr(name[:40] + ("..." if len(name) > 40 else ""))
        raise UsageError(f"{shown}: not a usable model name (letters, digits, '-', '_'; at most "
                             f"{MAX_NAME} characters, starting with a letter or digit)")
    bundled = {e.name for e in list_models() if not e.imported}
    if name in bundled:
        raise UsageError(f"{name}: a bundled model has this name; choose another with --name")
    if (dest / name).exists() and not force:
        raise UsageError(f"{dest / name}: already imported; use --force to replace it")


def import_model(arch: str, weights: str | os.PathLike, *, name: str | None = None,
                 prototxt: str | os.PathLike | None = None, hull: str | os.PathLike | None = None,
                 int8: bool = False, calib: str | os.PathLike | None = None, eval_dir: str | os.PathLike | None = None,
                 calib_size: int = 300, eval_limit: int = 0, max_drop: float | None = None, force: bool = False,
                 dest: str | os.PathLike | None = None, progress=None) -> ImportResult:
    """Import ``weights`` as ``arch`` into ``dest/name`` (default: the user model folder, name = arch)."""
    from edgecolor.models import user_models_dir

    if arch not in ARCHS:
        raise UsageError(f"unknown network {arch!r}; choose from {', '.join(ARCHS)}")
    require_convert()
    say = progress or (lambda _msg: None)
    weights = Path(weights).expanduser()
    name = name or arch
    dest = Path(dest).expanduser() if dest else user_models_dir()
    remove_stale_imports(dest, say)
    _check_name(name, dest, force)
    if int8 and calib is None:
        raise UsageError("--int8 needs --calib DIR (photos to calibrate on)")
    if calib is not None:
        from edgecolor.files import image_paths

        image_paths(calib)  # a missing or empty folder fails now, not after the conversion
    say(f"reading {weights}")
    with _hostile_file(weights):
        model, contract, fmt, notes = build(arch, weights, name, Path(prototxt) if prototxt else None,
                                            Path(hull) if hull else None)
        say("simplifying and checking the graph")
        model = finish_onnx(model, contract, notes)
    try:
        dest.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".import-{name}-ec{host_tag()}-{os.getpid()}-", dir=dest))
    except OSError as e:
        raise OutputError(f"{dest}: cannot write the model folder ({e.strerror or e})") from None
    try:
        import onnx

        fp32 = staging / f"{name}-fp32.onnx"
        onnx.save(model, str(fp32))
        with _hostile_file(weights):
            check_runs(fp32, contract)
        say("converting to OpenVINO IR FP16")
        files = [fp32, save_ir(fp32, staging / f"{name}-fp16.xml", "fp16")]
        gate = None
        if int8:
            gate, int8_files = _int8(fp32, contract, staging, name, Path(calib), Path(eval_dir or calib), calib_size,
                                     eval_limit, max_drop, say)
            files += int8_files
        digest = sha256(weights)
        notes.append(f"sha256 matches the published {PUBLISHED[digest]}" if digest in PUBLISHED
                     else "sha256 matches no published release file (other or retrained weights)")
        card = {"imported_from": weights.name, "format": fmt, "network": arch, "sha256": digest, "notes": notes}
        from edgecolor.bench import network_gmacs

        gmacs = network_gmacs(fp32, 256, 256)
        if gmacs is not None:
            card["gflops_256"] = round(2 * gmacs, 2)  # `edgecolor models` shows it
        if gate is not None:
            card["int8_gate"] = gate
        (staging / "card.json").write_text(json.dumps(card, indent=1), encoding="utf-8")
        for p in staging.iterdir():
            os.chmod(p, 0o644)
        os.chmod(staging, 0o755)
        final = dest / name
        _install(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = [final / p.name for p in files]
    files += [p.with_suffix(".bin") for p in files if p.suffix == ".xml"]
    return ImportResult(name, final, fmt, sorted(files), contract, gate, notes)


@contextlib.contextmanager
def _hostile_file(weights: Path):
    """Whatever reading, checking or running a hostile file raises becomes one line naming it (exit 2):
    the readers check what they know of; this catches what a crafted file finds beyond that."""
    try:
        yield
    except EdgecolorError:
        raise
    except MemoryError:
        raise ModelError(f"{weights}: cannot import (it asks for more memory than there is)") from None
    except Exception as e:  # noqa: BLE001 - onnx, onnxsim, protobuf and OpenVINO raise anything on a crafted file
        reason = (str(e).splitlines() or [""])[0][:160] or type(e).__name__
        raise ModelError(f"{weights}: cannot import this file ({reason})") from None


# .import-<name>-ec<host>-<pid>-<mkdtemp's 8>: a staging folder; .old-<name>-ec<host>-<pid>: a replaced import
_STAGING = re.compile(r"^\.import-.+-ec(?P<host>[0-9a-f]{4})-(?P<pid>\d+)-[a-z0-9_]{8}$")
_OLD = re.compile(r"^\.old-(?P<name>.+)-ec(?P<host>[0-9a-f]{4})-(?P<pid>\d+)$")
_STAGING_UNNAMED = re.compile(r"^\.import-.+-[a-z0-9_]{8}$")  # before the writer was recorded: by age only


def remove_stale_imports(dest: Path, say=None) -> list[Path]:
    """Remove what killed imports left in ``dest``: staging folders whose writer (host and process in the
    name, as edgecolor.atomic names its temporaries) is gone, or that are a day old; a replaced import
    left by a kill is put back when its successor never arrived. Nothing else is touched."""
    from edgecolor.atomic import STALE_AFTER_S, _process_exists

    removed = []
    try:
        names = sorted(n for n in os.listdir(dest) if n.startswith((".import-", ".old-")))
    except OSError:
        return removed
    for n in names:
        path = dest / n
        m = _STAGING.match(n) or _OLD.match(n)
        try:
            st = path.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode):  # never a file or a link of someone else's
            continue
        gone = m is not None and m["host"] == host_tag() and not _process_exists(int(m["pid"]))
        old_enough = time.time() - st.st_mtime > STALE_AFTER_S
        if not (gone or (old_enough and (m is not None or _STAGING_UNNAMED.match(n)))):
            continue
        if n.startswith(".old-") and m is not None and not (dest / m["name"]).exists():
            os.replace(path, dest / m["name"])  # killed between the two renames of _install: keep the old import
            if say:
                say(f"restored {dest / m['name']} (an interrupted --force import had moved it aside)")
            continue
        shutil.rmtree(path, ignore_errors=True)
        removed.append(path)
        if say:
            say(f"removed {path}: left by an interrupted import")
    return removed


def _install(staging: Path, final: Path) -> None:
    """Rename the staged folder into place; an old import of the same name goes only once the new one is there."""
    if not final.exists():
        os.replace(staging, final)
        return
    old = final.with_name(f".old-{final.name}-ec{host_tag()}-{os.getpid()}")
    os.replace(final, old)
    try:
        os.replace(staging, final)
    except OSError:
        os.replace(old, final)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _int8(fp32: Path, contract: ModelContract, staging: Path, name: str, calib: Path, eval_dir: Path,
          calib_size: int, eval_limit: int, max_drop: float | None, say) -> tuple[dict, list[Path]]:
    """Quantize, gate, and keep the INT8 IR only when it passes."""
    import openvino as ov

    from edgecolor.files import image_paths
    from edgecolor.importers import int8 as q

    n = min(calib_size, len(image_paths(calib)))
    say(f"calibrating INT8 on {n} photos from {calib}")
    inputs = q.calibration_inputs(calib, contract, n)
    quantized = q.quantize_model(ov.Core().read_model(str(fp32)), inputs)
    out = staging / f"{name}-int8.xml"
    with tempfile.TemporaryDirectory() as tmp:
        trial = Path(tmp) / out.name
        save_ir(fp32, trial, "int8", model=quantized)
        say(f"quality gate: INT8 vs FP32 on {eval_dir}")
        report = q.gate(fp32, trial, eval_dir, eval_limit, q.MAX_DROP_DB if max_drop is None else max_drop)
        if not report["passed"]:
            return report, []
        shutil.move(str(trial), out)
        shutil.move(str(trial.with_suffix(".bin")), out.with_suffix(".bin"))
    return report, [out]

"""The fuzz run of tests/test_import_fuzz.py, in its own process under an address-space limit.

`python fuzz_import_child.py KIND EXAMPLES WORKDIR`: hypothesis feeds random and mutated files of
one kind (pth, caffe, onnx) to ``import_model``; each must import or raise one one-line
EdgecolorError. Any other exception fails the run (hypothesis prints the file it found); a crash
kills the process (the parent sees the signal); memory is capped by RLIMIT_AS and the peak printed.
"""

from __future__ import annotations

import resource
import sys
from pathlib import Path

LIMIT_AS = 2 << 30
resource.setrlimit(resource.RLIMIT_AS, (LIMIT_AS, LIMIT_AS))

import numpy as np  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import hostile_weights as H  # noqa: E402

from edgecolor.errors import EdgecolorError  # noqa: E402
from edgecolor.importers.importer import import_model  # noqa: E402

KIND, EXAMPLES, WORK = sys.argv[1], int(sys.argv[2]), Path(sys.argv[3])
outcomes: dict[str, int] = {}


def attempt(data: bytes, arch: str = "eccv16") -> None:
    """Import ``data`` as a weights file: success or one line; nothing else."""
    path = WORK / "fuzz.bin"
    path.write_bytes(data)
    try:
        import_model(arch, path, name="fuzz", dest=WORK / "models", force=True)
        outcomes["imported"] = outcomes.get("imported", 0) + 1
    except EdgecolorError as e:
        msg = str(e)
        assert "\n" not in msg and msg.startswith(str(path)), msg
        assert "more memory than there is" not in msg, msg  # a size got past the checks to the allocator
        reason = msg.split(": ", 1)[1][:30]
        outcomes[reason] = outcomes.get(reason, 0) + 1


def mutate(seed: bytes, edits) -> bytes:
    """Apply (kind, position, byte) edits: overwrite, insert, delete, truncate."""
    b = bytearray(seed)
    for kind, pos, value in edits:
        if not b:
            break
        pos %= len(b)
        if kind == 0:
            b[pos] = value
        elif kind == 1:
            b.insert(pos, value)
        elif kind == 2:
            del b[pos]
        else:
            del b[pos:]
    return bytes(b)


EDITS = st.lists(st.tuples(st.integers(0, 3), st.integers(0, 1 << 20), st.integers(0, 255)), min_size=1, max_size=6)
BIG = st.one_of(st.integers(-(1 << 63), 1 << 63), st.sampled_from([0, 1, 2, 4, 313, 10**9, 2**31, 2**62, -1]))


def pth_seeds() -> dict[str, bytes]:
    """A small state dict in the zip and legacy layouts, as torch writes them (tensors of a few values)."""
    entries = {"model1.0.weight": ("0", 0, (2, 1, 1, 1), (1, 1, 1, 1), 4), "model1.0.bias": ("0", 2, (2,), (1,), 4)}
    pkl = H.state_dict_pickle({k: H.tensor_ops(*v) for k, v in entries.items()})
    legacy = H.state_dict_pickle({k: H.tensor_ops(*v, legacy=True) for k, v in entries.items()})
    storage = np.arange(4, dtype=np.float32).tobytes()
    zpath = H.zip_pth(WORK / "seed.pth", pkl, {"0": storage})
    lpath = H.legacy_pth(WORK / "seed_legacy.pth", legacy, ["0"], [(4, storage)])
    return {"zip": zpath.read_bytes(), "legacy": lpath.read_bytes(), "pkl": pkl, "storage": storage}


def fuzz_pth() -> None:
    seeds = pth_seeds()

    @st.composite
    def files(draw):
        mode = draw(st.sampled_from(["zip", "legacy", "pickle", "geometry", "random"]))
        if mode in ("zip", "legacy"):
            return mutate(seeds[mode], draw(EDITS))
        if mode == "pickle":  # the pickle mutated, then zipped with valid checksums: the unpickler sees it
            pkl = mutate(seeds["pkl"], draw(EDITS))
            return H.zip_pth(WORK / "p.pth", pkl, {"0": seeds["storage"]}).read_bytes()
        if mode == "geometry":
            ndim = draw(st.integers(0, 4))
            size = tuple(draw(st.lists(BIG, min_size=ndim, max_size=ndim)))
            stride = tuple(draw(st.lists(BIG, min_size=ndim, max_size=ndim)))
            storage = b"\0" * 4 * draw(st.integers(0, 64))
            return H.tensor_pth(WORK / "g.pth", size, stride, draw(BIG), storage, draw(BIG)).read_bytes()
        prefix = draw(st.sampled_from([b"PK\x03\x04", b"\x80\x02", b"\x80\x05", b""]))
        return prefix + draw(st.binary(max_size=600))

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(files(), st.sampled_from(["eccv16", "siggraph17"]))
    def run(data, arch):
        attempt(data, arch)

    run()


def caffe_seed() -> bytes:
    """A few ECCV16-named layers (conv, BatchNorm with its three blobs, the anneal scale, class8_ab)."""
    from edgecolor.importers.caffe import messages

    net = messages()["NetParameter"](name="LtoAB")
    for name, blobs in (("conv1_1", [np.ones((2, 1, 1, 1)), np.zeros(2)]),
                        ("conv1_2norm", [np.zeros(2), np.ones(2), np.ones(1)]),
                        ("conv8_313_rh", [np.full(3, 2.606)]), ("class8_ab", [np.ones((2, 3, 1, 1))])):
        layer = net.layer.add(name=name, type="Convolution")
        for arr in blobs:
            blob = layer.blobs.add()
            blob.shape.dim.extend(arr.shape)
            blob.data.extend(np.asarray(arr, np.float32).ravel().tolist())
    v1 = net.layers.add(name="conv1_1")
    v1.blobs.add(num=1, channels=1, height=1, width=2).data.extend([1.0, 2.0])
    return net.SerializeToString()


@st.composite
def caffe_structured(draw) -> bytes:
    """ECCV16-named layers with random blob counts, shapes (the shape field or the legacy four) and lengths."""
    from edgecolor.importers.caffe import messages

    net = messages()["NetParameter"](name="LtoAB")
    names = ["conv1_1", "conv1_2norm", "conv8_313_rh", "class8_ab", "conv8_1", "conv2_2norm"]
    for name in draw(st.lists(st.sampled_from(names), max_size=6)):
        layer = net.layers.add(name=name) if draw(st.booleans()) else net.layer.add(name=name, type="Scale")
        for _ in range(draw(st.integers(0, 4))):
            blob = layer.blobs.add()
            if draw(st.booleans()):
                blob.shape.dim.extend(draw(st.lists(BIG.filter(lambda v: -(1 << 63) <= v < 1 << 63), max_size=5)))
            else:
                dims = draw(st.lists(st.integers(-(1 << 31), (1 << 31) - 1), min_size=4, max_size=4))
                blob.num, blob.channels, blob.height, blob.width = dims
            values = draw(st.lists(st.floats(width=32), max_size=8))
            (blob.double_data if draw(st.booleans()) else blob.data).extend(values)
    return net.SerializeToString()


def fuzz_caffe() -> None:
    seed = caffe_seed()

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(caffe_structured(), EDITS.map(lambda e: mutate(seed, e)),
                     st.binary(max_size=600).map(lambda b: b"\x0a\x05LtoAB" + b), caffe_structured()))
    def run(data):
        attempt(data)

    run()


OPS = ["Conv", "Resize", "Relu", "Loop", "If", "Scan", "ConstantOfShape", "Tile", "Expand", "Range", "Reshape",
       "Identity", "MatMul", "Softmax", "Upsample", "Pad"]


@st.composite
def onnx_structured(draw, seed: bytes) -> bytes:
    """The seed graph with random input/output dims, weight dims, resize scales and operator types."""
    import onnx
    from onnx import numpy_helper

    m = onnx.load_model_from_string(seed)
    side = st.one_of(st.integers(-3, 40), BIG.filter(lambda v: -(1 << 63) <= v < 1 << 63))
    for vi in (m.graph.input[0], m.graph.output[0]):
        for d in vi.type.tensor_type.shape.dim:
            if draw(st.integers(0, 5)) == 0:
                d.dim_value = draw(side)
    for init in m.graph.initializer:
        if init.name == "scales" and draw(st.booleans()):
            values = draw(st.lists(st.floats(width=32), min_size=4, max_size=4))
            init.CopyFrom(numpy_helper.from_array(np.array(values, np.float32), "scales"))
        elif draw(st.booleans()):
            del init.dims[:]
            init.dims.extend(draw(st.lists(side, max_size=5)))
    for node in m.graph.node:
        if draw(st.booleans()):
            node.op_type = draw(st.sampled_from(OPS))
    return m.SerializeToString()


def fuzz_onnx() -> None:
    seed = H.eccv_like_onnx(WORK / "seed.onnx", size=16).read_bytes()
    attempt(seed)  # the seed itself imports: mutations start from a file that gets all the way through
    assert outcomes.get("imported") == 1, outcomes

    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(st.one_of(onnx_structured(seed), EDITS.map(lambda e: mutate(seed, e)),
                     st.binary(max_size=400).map(lambda b: b"\x08\x08" + b), onnx_structured(seed)))
    def run(data):
        attempt(data)

    run()


if __name__ == "__main__":
    {"pth": fuzz_pth, "caffe": fuzz_caffe, "onnx": fuzz_onnx}[KIND]()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"fuzz {KIND}: {sum(outcomes.values())} files, peak RSS {peak_mb} MB; {outcomes}")

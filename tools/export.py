"""PyTorch checkpoint → ONNX (dynamic H and W) with the model contract in metadata_props.

The graph is simplified with onnxsim, checked with onnx.checker, and verified: the ONNX output
must equal the PyTorch output within 1e-4 on random and real input, or nothing is written. The
contract is also written as JSON beside the model (``model.json``, for C++: see examples/cpp).

    python -m tools.export runs/lite0/final.pt models/edgecolor-lite0/edgecolor-lite0-fp32.onnx
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

import cv2
import numpy as np
import onnx
import torch

from edgecolor.contract import L_SCALE, L_SHIFT, ModelContract
from tools.net import OUTPUT_STRIDE, STRIDE, ColorNet, checkpoint_encoder
from tools.sidecar import write_contract_json

MODEL_NAME = "edgecolor-lite0"  # the default network's name; another encoder gives edgecolor-<encoder>
MODEL_VERSION = "1.1.0"
TOLERANCE = 1e-4
# The graph outputs ab / AB_SCALE (about -0.9..0.9): a unit range keeps INT8 calibration well
# conditioned and makes the 1e-4 equivalence check meaningful (float32 has ~7 digits).
AB_SCALE = 128.0


class Exported(torch.nn.Module):
    """The network as shipped: L scaled per contract in, ab / AB_SCALE out."""

    def __init__(self, net: ColorNet):
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x) * (1.0 / AB_SCALE)


def load_checkpoint(path: str | Path, temperature: float | None = None, fallback: float = 0.0,
                    gain: float = 1.0) -> ColorNet:
    """A ColorNet from a train checkpoint (final.pt or last.pt), in eval mode; ``fallback``, ``gain``: see
    AnnealedMean."""
    z = torch.load(path, map_location="cpu", weights_only=False)
    net = ColorNet(np.asarray(z["centres"]), pretrained=False, fallback=fallback, gain=gain,
                   variant=checkpoint_encoder(z))
    net.load_state_dict(z["model"])
    if temperature is not None:
        net.decode.temperature = temperature
    elif "temperature" in z:
        net.decode.temperature = float(z["temperature"])
    return net.eval()


def model_name(net: ColorNet) -> str:
    return f"edgecolor-{net.encoder.variant}"


def contract_for(precision: str = "fp32", working_size: int = 256, name: str = MODEL_NAME) -> ModelContract:
    return ModelContract(
        name=name,
        version=MODEL_VERSION,
        precision=precision,
        input_name="L",
        output_name="ab",
        l_scale=L_SCALE,
        l_shift=L_SHIFT,
        ab_scale=AB_SCALE,
        size_multiple=STRIDE,
        working_size=working_size,
        output_stride=OUTPUT_STRIDE,
    )


def set_metadata(model: onnx.ModelProto, meta: dict[str, str]) -> None:
    """Replace the model's metadata_props with meta (keeps other keys)."""
    keep = [p for p in model.metadata_props if p.key not in meta]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    for k, v in meta.items():
        model.metadata_props.add(key=k, value=v)


def real_inputs(folder: str | Path | None, n: int = 3) -> list[np.ndarray]:
    """Network inputs made from a few real photos (L scaled per contract), sizes multiples of 32."""
    out = []
    if folder:
        from edgecolor.files import image_paths

        for p in image_paths(folder)[:n]:
            img = cv2.imread(str(p))
            h, w = img.shape[:2]
            img = cv2.resize(img, (max(32, w // 32 * 32), max(32, h // 32 * 32)), interpolation=cv2.INTER_AREA)
            L = cv2.cvtColor(img.astype(np.float32) / 255, cv2.COLOR_BGR2Lab)[..., 0]
            out.append((L * L_SCALE + L_SHIFT)[None, None].astype(np.float32))
    return out


def verify(net: torch.nn.Module, onnx_path: Path, inputs: list[np.ndarray]) -> float:
    """Largest |ONNX − PyTorch| over the inputs, run through OpenVINO's ONNX reader (a real runtime)."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(onnx_path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    worst = 0.0
    for x in inputs:
        with torch.no_grad():
            ref = net(torch.from_numpy(x)).numpy()
        got = compiled(x)[0]
        if got.shape != ref.shape:
            raise SystemExit(f"export check failed: shape {got.shape} != {ref.shape}")
        worst = max(worst, float(np.abs(got - ref).max()))
    return worst


def export(net: ColorNet, out: str | Path, contract: ModelContract, check_folder: str | Path | None = None,
           simplify: bool = True) -> float:
    """Export, simplify, check, verify, then write atomically. Returns the verified max error."""
    net = Exported(net).eval()
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        torch.onnx.export(
            net, torch.zeros(1, 1, 256, 256), str(raw), input_names=[contract.input_name],
            output_names=[contract.output_name], opset_version=17, dynamo=False,
            dynamic_axes={contract.input_name: {2: "height", 3: "width"},
                          contract.output_name: {2: "out_height", 3: "out_width"}},
        )
        model = onnx.load(str(raw))
        if simplify:
            import onnxsim

            model, ok = onnxsim.simplify(model)
            if not ok:
                raise SystemExit("onnxsim could not validate the simplified model")
        set_metadata(model, contract.to_metadata())
        model.doc_string = "edgecolor colorization network: L in, ab out (see metadata edgecolor.*)"
        onnx.checker.check_model(model)
        staged = Path(tmp) / "model.onnx"
        onnx.save(model, str(staged))
        rng = np.random.default_rng(0)
        inputs = [rng.uniform(-1, 1, (1, 1, 64, 96)).astype(np.float32),
                  rng.uniform(-1, 1, (1, 1, 256, 192)).astype(np.float32)] + real_inputs(check_folder)
        err = verify(net, staged, inputs)
        if err > TOLERANCE:
            raise SystemExit(f"export check failed: ONNX differs from PyTorch by {err:.2e} > {TOLERANCE}")
        fd, tmp_out = tempfile.mkstemp(dir=out.parent, suffix=".onnx.tmp")
        os.close(fd)
        onnx.save(model, tmp_out)
        os.chmod(tmp_out, 0o644)  # mkstemp makes it private; a model file is for everyone
        os.replace(tmp_out, out)
    write_contract_json(contract.to_metadata(), out)
    return err


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("out")
    ap.add_argument("--temperature", type=float, default=None, help="annealed-mean temperature (default: ckpt)")
    ap.add_argument("--fallback", type=float, default=0.0,
                    help="mute unsure colour: v0 of the uncertainty fallback in ab units squared (0 = off)")
    ap.add_argument("--gain", type=float, default=1.0,
                    help="chroma gain after the fallback (chosen by tools.tune on held-out training photos)")
    ap.add_argument("--working-size", type=int, default=256)
    ap.add_argument("--check-folder", default=None, help="photos for the real-input equivalence check")
    ap.add_argument("--no-simplify", action="store_true")
    args = ap.parse_args(argv)
    net = load_checkpoint(args.checkpoint, args.temperature, args.fallback, args.gain)
    contract = contract_for("fp32", args.working_size, model_name(net))
    err = export(net, args.out, contract, args.check_folder, not args.no_simplify)
    print(f"wrote {args.out} and its contract {Path(args.out).with_suffix('.json').name} "
          f"(max |onnx - torch| = {err:.2e})")


if __name__ == "__main__":
    main()

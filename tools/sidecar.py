"""The model contract as a JSON file beside an ONNX model, for readers that cannot see ONNX metadata_props
(OpenCV's C++ DNN module: examples/cpp reads it with cv::FileStorage). Same keys as the metadata, without
the ``edgecolor.`` prefix, numbers as numbers. The metadata stays the source of truth for the Python runtime.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from edgecolor.contract import PREFIX, ModelContract


def contract_json_path(onnx_path: str | Path) -> Path:
    """``model.onnx`` -> ``model.json``."""
    return Path(onnx_path).with_suffix(".json")


def write_contract_json(meta: dict[str, str], onnx_path: str | Path) -> Path:
    """Validate the ``edgecolor.*`` metadata and write it beside ``onnx_path`` (atomically); returns the path."""
    contract = ModelContract.from_metadata(meta, str(onnx_path))
    data = {key.removeprefix(PREFIX): value for key, value in _typed(contract).items()}
    out = contract_json_path(onnx_path)
    fd, tmp = tempfile.mkstemp(dir=out.parent, suffix=".json.tmp")
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)
        f.write("\n")
    os.chmod(tmp, 0o644)
    os.replace(tmp, out)
    return out


def _typed(contract: ModelContract) -> dict[str, object]:
    from dataclasses import asdict

    return {PREFIX + k: v for k, v in asdict(contract).items()}

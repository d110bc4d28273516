"""Training, export, conversion and quantization tools (need torch / onnx / nncf extras)."""

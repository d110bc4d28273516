"""`edgecolor info`: versions, backends, OpenVINO devices, CPU features, threads."""

from __future__ import annotations

import json
import os

import cv2
from cli_support import WITHOUT_OPENVINO, invoke, run_python

from edgecolor import __version__
from edgecolor.cpu import cpu_info


def test_info_text_and_json():
    result = invoke("info")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].split() == ["edgecolor", __version__]
    for key in ("numpy", "opencv", "openvino", "backends", "cpu features", "threads"):
        assert any(line.startswith(key) for line in result.stdout.splitlines()), key
    data = json.loads(invoke("info", "--json").stdout)
    assert data["versions"]["edgecolor"] == __version__
    assert data["versions"]["opencv"] == cv2.__version__
    assert data["backends"]["opencv"] == "available" and data["backends"]["openvino"] == "available"
    assert data["backends"]["auto"] == "uses openvino"
    assert "CPU" in data["openvino_devices"]
    assert "FP32" in data["openvino_devices"]["CPU"]["optimization_capabilities"]
    # what --precision really computes in, read back from OpenVINO (fp16 may run as bf16 or f32)
    runs = dict(item.split(" as ") for item in data["openvino_devices"]["CPU"]["precision_runs_as"].split(", "))
    assert runs["fp32"] == "f32" and runs["fp16"] in ("f16", "bf16", "f32")
    assert any(line.strip().startswith("CPU computes") for line in result.stdout.splitlines())
    assert data["threads"]["cpu_count"] == os.cpu_count()
    assert data["threads"]["opencv_threads"] >= 1


def test_cpu_features_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text(
        "processor\t: 0\nmodel name\t: Test CPU 9000\nflags\t\t: fpu sse4_2 avx avx2 fma avx512f avx512_vnni\n"
    )
    info = cpu_info(x86, arch="x86_64")
    assert info["model"] == "Test CPU 9000"
    assert info["features"] == ["SSE4.2", "AVX", "AVX2", "FMA", "AVX-512", "AVX-512 VNNI"]
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm asimddp asimdhp\nCPU part\t: 0xd0b\n")
    assert cpu_info(arm, arch="aarch64")["features"] == ["NEON", "dot product", "FP16 arithmetic"]
    # qemu-user shows an arm64 process the x86-64 host's cpuinfo: none of its features apply to arm64
    assert cpu_info(x86, arch="aarch64") == {"model": "Test CPU 9000", "arch": "aarch64", "features": []}
    assert cpu_info(arm, arch="x86_64")["features"] == []
    assert cpu_info(tmp_path / "missing")["features"] == []


def test_info_without_openvino(tmp_path):
    proc = run_python(WITHOUT_OPENVINO, "info", "--json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["versions"]["openvino"] == "not installed"
    assert data["backends"]["openvino"] == "not installed: pip install openvino"
    assert data["backends"]["auto"] == "uses opencv" and data["openvino_devices"] == {}

"""The program itself: `python -m edgecolor`, help, version, exit codes, no tracebacks."""

from __future__ import annotations

from cli_support import assert_no_traceback, run_cli, run_python

from edgecolor import __version__

COMMANDS = ("colorize", "models", "info", "demo")


def test_python_m_edgecolor_help_lists_commands(tmp_path):
    proc = run_cli("--help", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    for command in COMMANDS:
        assert command in proc.stdout
    proc = run_cli("colorize", "--help", cwd=tmp_path)
    assert proc.returncode == 0 and "--recursive" in proc.stdout and "--saturation" in proc.stdout


def test_help_does_not_import_the_runtimes(tmp_path):
    code = (
        "import sys\nfrom edgecolor.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('cv2', 'numpy', 'openvino', 'torch', 'onnx') if m in sys.modules]\n"
        "print('HEAVY', heavy)\n"
    )
    proc = run_python(code, cwd=tmp_path)
    assert "HEAVY []" in proc.stdout, proc.stdout + proc.stderr


def test_version(tmp_path):
    proc = run_cli("--version", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout.strip() == f"edgecolor {__version__}"


def test_usage_errors_exit_2_without_traceback(tmp_path):
    for args in (["colorize"], ["colorize", "x.jpg", "--no-such-option"], ["no-such-command"]):
        proc = run_cli(*args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert_no_traceback(proc.stdout, proc.stderr)


_RAISE = """
import sys
from edgecolor.cli import app, main
from edgecolor.errors import BackendError, EdgecolorError, InputError, ModelError, OutputError, UsageError

@app.command("boom")
def boom(kind: str) -> None:
    if kind == "interrupt":
        raise KeyboardInterrupt
    kinds = {"input": InputError, "output": OutputError, "model": ModelError, "backend": BackendError,
             "usage": UsageError}
    raise kinds.get(kind, EdgecolorError)("photo.jpg: something a user can fix")

main(sys.argv[1:])
"""


def test_ctrl_c_exits_130_and_user_errors_exit_2(tmp_path):
    proc = run_python(_RAISE, "boom", "interrupt", cwd=tmp_path)
    assert proc.returncode == 130
    assert_no_traceback(proc.stderr)
    proc = run_python(_RAISE, "boom", "error", cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr.strip() == "edgecolor: error: photo.jpg: something a user can fix"



def test_one_exit_code_rule_by_exception_type(tmp_path):
    """1: this input failed (the rest could run); 2: nothing could run. By type, for every command."""
    for kind, code in (("input", 1), ("output", 1), ("model", 2), ("backend", 2), ("usage", 2), ("error", 2)):
        proc = run_python(_RAISE, "boom", kind, cwd=tmp_path)
        assert proc.returncode == code, (kind, proc.stderr)
        assert proc.stderr.strip() == "edgecolor: error: photo.jpg: something a user can fix"

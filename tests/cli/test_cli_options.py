"""cli/_options.py: the colorizer and stream options are declared once and reach each command as one ColorizerOptions
/ StreamOptions."""

from __future__ import annotations

import inspect

import pytest
import typer
from cli_support import ERROR, invoke

from edgecolor.cli import _options as opt
from edgecolor.cli.app import app
from edgecolor.errors import UsageError
from edgecolor.options import ColorizerOptions, StreamOptions

COMMANDS = {c.callback.__name__: c.callback for c in app.registered_commands}


@pytest.mark.parametrize(("command", "names"), [
    ("colorize", list(opt.COLORIZER)),
    ("video", [n for n in opt.COLORIZER if n != "quality"]),  # --max-pixels holds for frames too (issue 21);
    ("live", [n for n in opt.COLORIZER if n != "quality"]),  # video and live stay one pass a frame (issue 20)
    ("demo", ["model", "backend", "precision"]),
    ("eval_command", ["model", "backend", "precision", "size", "quality"]),
    ("bench", ["model", "threads", "device"]),
])
def test_commands_take_the_shared_declarations(command, names):
    params = inspect.signature(COMMANDS[command]).parameters
    assert "options" not in params
    # the one typer.Option of each, not a copy (bench's own --backend/--precision take "all")
    assert [n for n in params if n in opt.COLORIZER and params[n].default is opt.COLORIZER[n][0]] == names


def test_parsed_values_become_one_checked_object():
    o = opt.colorizer_options(model="m", precision=opt.Precision("int8"), size=96)
    assert o == ColorizerOptions(model="m", precision="int8", size=96) and type(o.precision) is str
    with pytest.raises(UsageError, match="saturation"):
        opt.colorizer_options(saturation=float("nan"))


def test_the_command_gets_the_object():
    seen = []

    @opt.takes_colorizer_options
    def command(first: int = typer.Option(1, "--first"), options: ColorizerOptions = opt.colorizer("size", "guided"),
                last: int = typer.Option(2, "--last")) -> None:
        seen.append((first, options, last))

    assert list(inspect.signature(command).parameters) == ["first", "size", "guided", "last"]
    command(first=3, size=64, guided=False, last=4)
    assert seen == [(3, ColorizerOptions(size=64, guided=False), 4)]
    with pytest.raises(ValueError, match="not colorizer options"):
        opt.colorizer("colour")


@pytest.mark.parametrize("command", ["video", "live"])
def test_video_and_live_take_the_stream_options(command):
    params = inspect.signature(COMMANDS[command]).parameters
    assert "stream" not in params
    assert [n for n in params if n in opt.STREAM and params[n].default is opt.STREAM[n][0]] == list(opt.STREAM)


def test_the_command_gets_one_stream_options_beside_the_colorizers():
    seen = []

    @opt.takes_colorizer_options
    def command(options: ColorizerOptions = opt.colorizer("size"), stream: StreamOptions = opt.stream(),
                last: int = typer.Option(2, "--last")) -> None:
        seen.append((options, stream, last))

    assert list(inspect.signature(command).parameters) == ["size", "stabilize", "strength", "workers", "last"]
    command(size=64, stabilize=False, strength=0.5, workers=2, last=4)
    assert seen == [(ColorizerOptions(size=64), StreamOptions(stabilize=False, strength=0.5, workers=2), 4)]
    with pytest.raises(ValueError, match="not stream options"):
        opt.stream("saturation")


def test_stream_option_bounds_are_the_librarys(tmp_path):
    """--strength and --workers refuse what StreamOptions refuses, before any file is looked at (exit 2)."""
    for args in (["--strength", "0.96"], ["--workers", "9"], ["--size", "15"]):
        result = invoke("video", tmp_path / "missing.mp4", *args)
        assert result.exit_code == 2, (args, result.output)
        assert result.output.startswith(ERROR) and args[0] in result.output and "missing.mp4" not in result.output


def test_a_value_typer_lets_through_is_one_line_exit_2(tmp_path):
    result = invoke("colorize", tmp_path / "a.jpg", "--saturation", "inf")
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [f"{ERROR}saturation must be a number >= 0, got inf"]



def _help(*args: str) -> str:
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, [*args, "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize("command", sorted(typer.main.get_command(app).commands))
def test_flags_are_plain_flags_in_help(command):
    """Issue 24: --help showed `<bool>` beside --force, and `--force true` then took "true" for an input file."""
    text = _help(command)
    assert "<bool>" not in text and "--help" in text
    assert "<bool>" not in _help()


def test_flags_still_parse_as_flags(models_dir, tmp_path):
    from cli_support import write_image
    from conftest import photo

    src = write_image(tmp_path / "a.jpg", photo())
    assert invoke("colorize", src, "--no-guided", "-r").exit_code == 0
    forced = invoke("colorize", src, "--force", "--guided")
    assert forced.exit_code == 0 and "edgecolor: skipped" not in forced.output and "done 1," in forced.output
    assert "--guided" in _help("colorize") and "--no-guided" in _help("colorize")  # the pair stays one option

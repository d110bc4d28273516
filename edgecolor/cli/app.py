"""The Typer app that every command module in edgecolor/cli/ registers itself on.

Kept import-light: command modules import heavy things (numpy, cv2, openvino, rich) inside their
functions, so `edgecolor --help` does not pay for them.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from edgecolor.errors import EdgecolorError


def error(message: str) -> None:
    """One-line error on stderr, the format every command uses."""
    print(f"edgecolor: error: {message}", file=sys.stderr, flush=True)


def warning(message: str) -> None:
    print(f"edgecolor: warning: {message}", file=sys.stderr, flush=True)


class _Group(TyperGroup):
    """Turns EdgecolorError into one line and exit code 2 for every command, in tests and in real runs alike."""

    def invoke(self, ctx):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except EdgecolorError as e:
            error(str(e))
            raise typer.Exit(2) from None


app = typer.Typer(
    cls=_Group,
    name="edgecolor",
    help="Colorize black-and-white photos and video fast on a CPU (keeps the original detail).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        from edgecolor import __version__

        print(f"edgecolor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """Colorize black-and-white photos and video fast on a CPU (keeps the original detail)."""

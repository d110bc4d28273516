"""The Typer app that every command module in edgecolor/cli/ registers itself on.

Kept import-light: command modules import heavy things (numpy, cv2, openvino, rich) inside their
functions, so `edgecolor --help` does not pay for them.
"""

from __future__ import annotations

import sys

import typer
from typer.core import TyperGroup

from edgecolor.errors import EdgecolorError, InputError

EXIT_OK, EXIT_SOME_FAILED, EXIT_NOTHING_RAN, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_code(e: BaseException) -> int:
    """The one exit-code rule of every command: an input that failed (InputError) is 1, anything else
    that stops a command before it could run (bad model, missing backend, bad option) is 2, Ctrl-C 130."""
    if isinstance(e, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if isinstance(e, InputError) else EXIT_NOTHING_RAN


def error(message: str) -> None:
    """One-line error on stderr, the format every command uses."""
    print(f"edgecolor: error: {message}", file=sys.stderr, flush=True)


def warning(message: str) -> None:
    print(f"edgecolor: warning: {message}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """Something edgecolor did that the user did not ask for (e.g. tidying a killed run's temporary)."""
    print(f"edgecolor: note: {message}", file=sys.stderr, flush=True)


class _Group(TyperGroup):
    """Turns EdgecolorError into one line and ``exit_code`` for every command, in tests and in real runs alike."""

    def invoke(self, ctx):  # type: ignore[override]
        try:
            return super().invoke(ctx)
        except EdgecolorError as e:
            error(str(e))
            raise typer.Exit(exit_code(e)) from None


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

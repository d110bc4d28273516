"""The Typer app that every command module in edgecolor/cli/ registers itself on.

Kept import-light: command modules import heavy things (numpy, cv2, openvino, rich) inside their
functions, so `edgecolor --help` does not pay for them.
"""

from __future__ import annotations

import os
import signal
import sys
import warnings

import typer
from typer.core import TyperGroup

from edgecolor.errors import EdgecolorError, InputError, printable

EXIT_OK, EXIT_SOME_FAILED, EXIT_NOTHING_RAN, EXIT_INTERRUPTED = 0, 1, 2, 130


def exit_code(e: BaseException) -> int:
    """The one exit-code rule of every command: an input that failed (InputError) is 1, anything else
    that stops a command before it could run (bad model, missing backend, bad option) is 2, Ctrl-C 130."""
    if isinstance(e, KeyboardInterrupt):
        return EXIT_INTERRUPTED
    return EXIT_SOME_FAILED if isinstance(e, InputError) else EXIT_NOTHING_RAN


def error(message: str) -> None:
    """One-line error on stderr, the format every command uses (a file name's newline or escape
    sequence is shown escaped: ``errors.printable``)."""
    print(f"edgecolor: error: {printable(message)}", file=sys.stderr, flush=True)


def warning(message: str) -> None:
    print(f"edgecolor: warning: {printable(message)}", file=sys.stderr, flush=True)


def note(message: str) -> None:
    """Something edgecolor did that the user did not ask for (e.g. tidying a killed run's temporary)."""
    print(f"edgecolor: note: {printable(message)}", file=sys.stderr, flush=True)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """A Python warning that reaches the command line (a damaged photo in `eval`, numpy's RuntimeWarning) as
    one ``edgecolor: warning:`` line; numpy's own text names no file, so its category says where it came from."""
    text = " ".join(str(message).split())
    if not issubclass(category, UserWarning) or category is UserWarning:
        text = f"{text} ({category.__name__})"
    warning(text)


def _stop_like_ctrl_c(signum: int, frame: object) -> None:
    """SIGTERM (systemd, docker stop) and SIGHUP (a closed terminal) outside a run that finishes its
    output: a KeyboardInterrupt, handled as Ctrl-C is (the summary so far, nothing half-written)."""
    raise KeyboardInterrupt


_stop_like_ctrl_c.stops_like_ctrl_c = True  # type: ignore[attr-defined]  # ctrlc.ctrl_c_sets takes these over


def stop_signals() -> None:
    """A stop is a stop however it comes: SIGTERM and SIGHUP act as Ctrl-C (exit 130 after the summary).

    Only where they still have their default action (a signal a parent chose to ignore, e.g. nohup's
    SIGHUP, stays ignored). ``ctrlc.ctrl_c_sets`` turns them, like Ctrl-C, into "finish the file and stop".
    """
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None and signal.getsignal(sig) == signal.SIG_DFL:
            signal.signal(sig, _stop_like_ctrl_c)


class PipeSafeStdout:
    """stdout that survives its reader going away (`edgecolor video ... | head -1`).

    The first write that finds the pipe closed asks for a stop as SIGTERM would (the current file is
    finished, the batch stops); what is left to say (the summary) goes to stderr, and fd 1 is pointed at
    /dev/null so the interpreter's last flush does not print a BrokenPipeError either.
    """

    def __init__(self, stream) -> None:
        self._stream = stream
        self.broken = False

    def write(self, text: str) -> int:
        if not self.broken:
            try:
                n = self._stream.write(text)
                if "\n" in text:
                    self._stream.flush()  # find a closed pipe at the line that meets it, not at exit
                return n
            except (BrokenPipeError, ValueError):
                self._broke()
        return sys.stderr.write(text)

    def flush(self) -> None:
        if not self.broken:
            try:
                self._stream.flush()
            except (BrokenPipeError, ValueError):
                self._broke()

    def _broke(self) -> None:
        self.broken = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError):
            pass
        print("edgecolor: note: stdout was closed; stopping", file=sys.stderr, flush=True)
        handler = signal.getsignal(signal.SIGTERM) if hasattr(signal, "SIGTERM") else None
        if callable(handler):
            handler(signal.SIGTERM, None)

    def __getattr__(self, name: str):
        return getattr(self._stream, name)


def plain_flags(command, ctx) -> None:
    """Flags (``--force``, ``--guided/--no-guided``, ``--help``) show no value type in --help.

    Typer's help puts ``<bool>`` beside them as if they took a value, and `--force true` then reads "true"
    as an input file. An empty metavar leaves the type column blank; parsing is unchanged (still flags).
    """
    for param in command.get_params(ctx):  # the help option too: Click caches it on the command
        if getattr(param, "is_flag", False) and param.metavar is None:
            param.metavar = ""


class _Group(TyperGroup):
    """Turns EdgecolorError into one line and ``exit_code`` for every command, in tests and in real runs alike."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):  # type: ignore[override]
        """Click's usage errors (a bad option value, an unknown option) as one line, not Typer's box; exit 2."""
        if sys.stdout is not None and sys.stdout is sys.__stdout__:  # a real run, not in a test's CliRunner:
            stop_signals()  # SIGTERM, SIGHUP and a closed stdout stop it cleanly
            sys.stdout = PipeSafeStdout(sys.stdout)
        try:
            with warnings.catch_warnings():  # Python's two-line "file:line: Category: ..." format, as one line
                warnings.showwarning = _show_warning
                rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except typer.Abort:  # end of input at a prompt
            error("aborted")
            rv = EXIT_SOME_FAILED
        except Exception as e:  # Click's exceptions, whichever click (Typer >= 0.20 vendors its own)
            if not (hasattr(e, "format_message") and hasattr(e, "exit_code")):
                raise
            if type(e).__name__ == "NoArgsIsHelpError":  # bare `edgecolor`: the help, as Typer shows it
                from typer import rich_utils

                rich_utils.rich_format_error(e)
            else:
                ctx = getattr(e, "ctx", None)
                where = f" (see '{ctx.command_path} --help')" if ctx is not None else ""
                error(" ".join(e.format_message().split()) + where)
            rv = EXIT_NOTHING_RAN if e.exit_code == 2 else e.exit_code
        if not standalone_mode:
            return rv
        sys.exit(rv if isinstance(rv, int) else EXIT_OK)

    def get_command(self, ctx, cmd_name):  # type: ignore[override]
        command = super().get_command(ctx, cmd_name)
        if command is not None:
            plain_flags(command, ctx)
        return command

    def format_help(self, ctx, formatter) -> None:  # type: ignore[override]
        plain_flags(self, ctx)
        super().format_help(ctx, formatter)

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

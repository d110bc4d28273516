"""edgecolor's command line: one module per command, all registered on cli.app.app.

Every module in this package is imported here (pkgutil), so adding a command is adding one file.
`main()` is the console-script entry: user errors become one line on stderr, never a traceback.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys

from edgecolor.cli.app import app, error, exit_code
from edgecolor.errors import EdgecolorError

for _module in pkgutil.iter_modules(__path__):
    if not _module.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["app", "main"]


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; the exit code of an EdgecolorError is ``app.exit_code``'s (1 or 2), 130 on Ctrl-C."""
    import typer

    command = typer.main.get_command(app)
    try:
        command.main(args=argv, prog_name="edgecolor", standalone_mode=True)
    except EdgecolorError as e:  # raised outside a command (e.g. while parsing); commands handle their own
        error(str(e))
        sys.exit(exit_code(e))
    except KeyboardInterrupt:
        print(file=sys.stderr)
        sys.exit(130)

"""`edgecolor serve`: parse the options, run edgecolor.serve's HTTP server, print where and how it ended."""

from __future__ import annotations

import ipaddress
import signal

import typer

from edgecolor.cli import _options as opt
from edgecolor.cli.app import EXIT_INTERRUPTED, app, note
from edgecolor.options import ColorizerOptions

TOKEN_ENV = "EDGECOLOR_TOKEN"


def loopback(host: str) -> bool:
    """Only this machine can connect to ``host`` (a loopback address or localhost)."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host.lower() == "localhost"


@app.command()
@opt.takes_colorizer_options
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every network; "
                             "loopback only by default)."),
    port: int = typer.Option(7000, "--port", min=0, max=65535, help="Port (0: any free one)."),
    options: ColorizerOptions = opt.colorizer(photos=True, stills=True),
    workers: int = typer.Option(2, "--workers", min=1, max=64, help="Photos colorized at once (one model, loaded "
                                "once; inference takes turns)."),
    queue: int = typer.Option(8, "--queue", min=0, help="Photos that may wait for a worker; more get 503."),
    max_bytes: int = typer.Option(100 * 2**20, "--max-bytes", min=1, help="Largest upload in bytes (413 above)."),
    token: str | None = typer.Option(None, "--token", envvar=TOKEN_ENV, show_envvar=True,
                                     help="Require 'Authorization: Bearer TOKEN' for /colorize and /info."),
    allow_hosts: list[str] = typer.Option([], "--allow-host", metavar="NAME",
                                          help="Also answer to this Host name (repeatable; '*': any)."),
) -> None:
    """Colorize over HTTP: POST /colorize, and a page at / to drop photos on."""
    from edgecolor.serve import PhotoServer
    from edgecolor.serve import serve as run_server

    def ready(server: PhotoServer) -> None:
        print(f"edgecolor: serving on {server.url} (Ctrl-C stops)", flush=True)
        if token is None and not loopback(host):
            note(f"listening on {host} without --token: anyone who can reach this port can use it")

    server = run_server(options, host, port, on_ready=ready, workers=workers, queue=queue, max_bytes=max_bytes,
                        token=token, allow_hosts=allow_hosts)
    print(f"edgecolor: {server.service.counts.line()}", flush=True)
    if server.stopped_by == signal.SIGINT:
        raise typer.Exit(EXIT_INTERRUPTED)

"""`edgecolor live`: colorize a camera, stream or file in real time, to a window, a recording, a browser
preview (MJPEG), an RTSP stream or a virtual camera. The work is edgecolor.live.live; this module parses and reports.
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from edgecolor.batch import colorizer_factory
from edgecolor.cli import _options as opt
from edgecolor.cli.app import EXIT_INTERRUPTED, EXIT_OK, app
from edgecolor.errors import InputError, UsageError
from edgecolor.options import ColorizerOptions, StreamOptions

if TYPE_CHECKING:
    from edgecolor.live import LiveReport


@app.command()
@opt.takes_colorizer_options
def live(
    source: str = typer.Option("0", "--source", "-s", help="Camera index, video file, or URL (rtsp://, http://)."),
    show: bool = typer.Option(False, "--show", help="Open a window (q or Esc quits); needs opencv-python."),
    side_by_side: bool = typer.Option(False, "--side-by-side", help="Show input and colorized frames side by side."),
    record: Path | None = typer.Option(None, "--record", help="Also record the colorized video (.mp4, .mkv, .avi)."),
    codec: str | None = typer.Option(None, "--codec", help="Codec of --record: a fourcc or an ffmpeg encoder."),
    serve: int | None = typer.Option(
        None, "--serve", metavar="PORT", min=0, max=65535, help="Serve an MJPEG preview page on http://HOST:PORT/."
    ),
    rtsp: int | None = typer.Option(
        None, "--rtsp", metavar="PORT", min=0, max=65535,
        help="Serve the colorized stream as H.264 at rtsp://HOST:PORT/edgecolor (NVRs, VLC; needs GStreamer).",
    ),
    host: str = typer.Option(
        "127.0.0.1", "--host", help="Address for --serve and --rtsp; 0.0.0.0 lets other machines watch (no password!)."
    ),
    allow_host: list[str] = typer.Option(
        [], "--allow-host", metavar="NAME",
        help="Also answer --serve requests for this host name (repeatable; '*' any name). By default only "
             "localhost names, the --host address and this machine's name: no DNS rebinding.",
    ),
    virtual_cam: bool = typer.Option(False, "--virtual-cam", help="Send frames to a virtual camera (pyvirtualcam)."),
    timeout: float = typer.Option(10.0, "--timeout", min=0.1, help="Give up after this many seconds without frames."),
    loop: bool = typer.Option(False, "--loop", help="Play a file source again from the start when it ends."),
    frames: int | None = typer.Option(
        None, "--frames", min=1,
        help="Stop after this many colorized frames (--record repeats or skips some to keep real time: its own "
             "count is reported).",
    ),
    options: ColorizerOptions = opt.colorizer(photos=True),  # with --max-pixels: the limit holds for frames too
    stream: StreamOptions = opt.stream(),  # --stabilize, --strength, --workers
) -> None:
    """Colorize a live camera or stream; fps and latency are drawn on the preview and reported on exit."""
    from edgecolor.ctrlc import ctrl_c_sets
    from edgecolor.live import live as run_live
    from edgecolor.sources import LiveSource
    from edgecolor.stream import for_streams

    if not (show or record or serve is not None or rtsp is not None or virtual_cam):
        raise UsageError(
            "choose where frames go: --show, --serve PORT, --rtsp PORT, --record FILE or --virtual-cam")
    if record is not None and record.exists():
        raise UsageError(f"{record}: exists; choose another --record file")
    # a missing or unusable input is an InputError (exit 1, cli/app.exit_code); cameras and URLs open later
    src = LiveSource(source, timeout=timeout, loop=loop, max_pixels=options.max_pixels)
    stop = threading.Event()  # Ctrl-C sets it (any number of times): the recording is finished, not lost
    server = None
    try:
        if rtsp is not None:  # a sink of the live run; a busy port or missing GStreamer fails before the model loads
            from edgecolor.rtsp import RtspServer

            server = RtspServer(rtsp, host, fps=lambda: src.fps or 25.0)
            print(f"rtsp: {server.url}", flush=True)
        with ctrl_c_sets(stop, exiting=True) as ctrl:
            report = run_live(
                src, colorizer_factory(for_streams(options)), show=show, side_by_side=side_by_side, record=record,
                codec=codec,
                serve=serve, host=host, allow_hosts=tuple(allow_host), virtual_cam=virtual_cam, timeout=timeout,
                loop=loop, stream_options=stream, max_frames=frames, stop=stop,
                sinks=[server] if server else None, announce=lambda m: print(m, flush=True),
            )
    except KeyboardInterrupt:
        print("edgecolor: interrupted", file=sys.stderr)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    finally:
        if server is not None:
            server.close()
        src.close()
    report.stats.ctrl_c = report.stats.ctrl_c or ctrl.presses > 0
    _print_report(report)
    if report.lost:  # after the summary: the source failed, an InputError (exit 1) like any input that fails
        raise InputError(report.ended)
    raise typer.Exit(EXIT_INTERRUPTED if report.stats.ctrl_c else EXIT_OK)


def _print_report(report: LiveReport) -> None:
    """The closing lines of a live run (what was colorized, reconnects, what the recording holds)."""
    print(f"live: {report.stats.line()}", file=sys.stderr)
    if report.reconnects:
        print(f"live: source reopened {report.reconnects} times", file=sys.stderr)
    if report.recorded:  # the file's own count: real-time pacing repeats or skips frames
        repeats, skipped = report.recorded_repeats, report.recorded_skipped
        why = f" ({repeats} repeated, {skipped} skipped to keep real time)" if repeats or skipped else ""
        print(f"recorded {report.recorded}: {report.recorded_frames} frames{why}")

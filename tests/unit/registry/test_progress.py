"""Transfer progress: bars with bytes and speed on a terminal, one line per change otherwise."""

import io

from krat.cli.progress import ProgressPrinter
from krat.engine.transfers import Event, Status


def feed(printer):
    printer(Event("aaaaaaaaaaaa", Status.PULLING_FS_LAYER, 0, 2_000_000))
    printer(Event("bbbbbbbbbbbb", Status.PULLING_FS_LAYER, 0, 1000))
    for done in (500_000, 1_000_000, 2_000_000):
        printer(Event("aaaaaaaaaaaa", Status.DOWNLOADING, done, 2_000_000))
    printer(Event("aaaaaaaaaaaa", Status.DOWNLOAD_COMPLETE, 2_000_000, 2_000_000))
    printer(Event("bbbbbbbbbbbb", Status.ALREADY_EXISTS))
    printer.finish(Status.PULL_COMPLETE)


def test_plain_output_is_one_line_per_status_change():
    out = io.StringIO()
    feed(ProgressPrinter(out, tty=False))
    assert out.getvalue().splitlines() == [
        "aaaaaaaaaaaa: Pulling fs layer", "bbbbbbbbbbbb: Pulling fs layer", "aaaaaaaaaaaa: Downloading",
        "aaaaaaaaaaaa: Download complete", "bbbbbbbbbbbb: Already exists", "aaaaaaaaaaaa: Pull complete"]


def test_terminal_output_redraws_bars_with_bytes_and_speed():
    out = io.StringIO()
    printer = ProgressPrinter(out, tty=True)
    printer(Event("aaaaaaaaaaaa", Status.DOWNLOADING, 1_000_000, 2_000_000))
    text = out.getvalue()
    assert "aaaaaaaaaaaa: Downloading [" in text and "1MB/2MB" in text and "/s" in text
    feed(printer)
    assert "\x1b[2A" in out.getvalue()  # cursor moved up over both layer lines to redraw them
    assert out.getvalue().rstrip().endswith("bbbbbbbbbbbb: Already exists")


def test_quiet_prints_nothing():
    out = io.StringIO()
    feed(ProgressPrinter(out, quiet=True))
    assert out.getvalue() == ""

"""Message helpers of errors.py: one printable line whatever a file is called, and file types in words."""

from __future__ import annotations

import os
import stat

import pytest

from edgecolor.errors import file_kind, printable


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("photos/a\nb.png", "photos/a\\nb.png"),  # a newline would split the one-line error
        ("a\r\tb", "a\\r\\tb"),
        ("red\x1b[31m.png", "red\\x1b[31m.png"),  # an escape sequence would recolour the terminal
        ("\x7f\x85", "\\x7f\\x85"),  # DEL and a C1 control
        (os.fsdecode(b"\xff\xfe.png"), "\\xff\\xfe.png"),  # a name that is not UTF-8, as ls -b shows it
        ("gpj.\u202eexe", "gpj.\\u202eexe"),  # a bidirectional override would show the name reversed
        ("one\u2028two", "one\\u2028two"),
        ("Großvater 1931 – 漢字 ok.png", "Großvater 1931 – 漢字 ok.png"),  # letters of any script stay
    ],
)
def test_printable_escapes_controls_and_raw_bytes_only(text, shown):
    assert printable(text) == shown
    assert printable(text).isprintable() and "\n" not in printable(text)
    shown.encode("utf-8")  # printable on any UTF-8 terminal or pipe, strict or not


def test_file_kind_in_words():
    assert file_kind(stat.S_IFIFO) == "a FIFO"
    assert file_kind(stat.S_IFCHR) == "a device"
    assert file_kind(stat.S_IFSOCK) == "a socket"
    assert file_kind(stat.S_IFDIR) == "a folder"

"""Small pieces: time parsing, redaction, formatting, the progress display."""

from __future__ import annotations

import io
import threading

import pytest

from papyra.cli.output import format_bytes, format_ts
from papyra.cli.progress import Progress
from papyra.cli.redact import redact
from papyra.cli.timeparse import parse_time

NOW = 1718000000.0


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1718000000", 1718000000.0),
        ("1718000000.25", 1718000000.25),
        ("now", NOW),
        ("30s", NOW - 30),
        ("15m", NOW - 900),
        ("2h", NOW - 7200),
        ("7d", NOW - 7 * 86400),
        ("1w", NOW - 604800),
        ("15m ago", NOW - 900),
        ("2024-06-10", 1717977600.0),
        ("2024-06-10T06:13:20Z", NOW),
        ("2024-06-10T06:13:20", NOW),
        ("2024-06-10T08:13:20+02:00", NOW),
        ("2024-06-10 06:13:20.5z", NOW + 0.5),
        # forms datetime.fromisoformat rejects on Python 3.10: Z, 1/2/4/5/7+ fraction digits
        ("2024-06-10T06:13:20.25Z", NOW + 0.25),
        ("2024-06-10T06:13:20.1234Z", NOW + 0.1234),
        ("2024-06-10T06:13:20.12345678+00:00", NOW + 0.123456),
        ("2024-06-10t06:13:20,5", NOW + 0.5),
        ("2024-06-10T06:13", NOW - 20),
        ("2024-06-10T07:43:20+0130", NOW),
        ("2024-06-10T04:13:20-02", NOW),
        ("2024-06-10T06:13:20.000Z", NOW),
    ],
)
def test_parse_time(text: str, expected: float) -> None:
    assert parse_time(text, now=NOW) == pytest.approx(expected)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "soon",
        "15 minutes",
        "-5m",
        "2024-13-40",
        "1e9",
        "2024-02-30T00:00:00Z",
        "2024-06-10T25:00:00",
        "2024-06-10T06:13:20.",
        "2024-06-10T06:13:20+24:00",
        "2024-06-10X06:13:20",
        "2024-06-10T06:13:20Zjunk",
    ],
)
def test_parse_time_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="invalid time"):
        parse_time(text, now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("redis://user:pa55@host:6379/0", "redis://user:***@host:6379/0"),
        ("rediss://:pa55@host/0 and unix://a:b@/sock", "rediss://:***@host/0 and unix://a:***@/sock"),
        (
            "error connecting to redis://h:1/0?password=x&db=1",
            "error connecting to redis://h:1/0?password=***&db=1",
        ),
        ("no secrets here: a=b", "no secrets here: a=b"),
        # closers that belong to the message survive; closers inside the secret do not show
        (
            "redis read failed (redis://h:1/0?password=s3cret): refused",
            "redis read failed (redis://h:1/0?password=***): refused",
        ),
        ("failed (redis://h:1/0?password=***)", "failed (redis://h:1/0?password=***)"),
        ("url 'redis://h/0?token=abc' rejected", "url 'redis://h/0?token=***' rejected"),
        ("[a (redis://h/0?pass=x)] done.", "[a (redis://h/0?pass=***)] done."),
        ("(redis://h/0?password=p)w)", "(redis://h/0?password=***)"),
        ("no opener redis://h/0?password=pw)", "no opener redis://h/0?password=***"),
        ("end redis://h/0?password=pw.", "end redis://h/0?password=***"),
        ("redis://host:6379/0", "redis://host:6379/0"),
    ],
)
def test_redact(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_formatting() -> None:
    assert format_ts(NOW) == "2024-06-10T06:13:20.000Z"
    assert format_ts(None) == "-"
    assert [format_bytes(n) for n in (None, 0, 1023, 1536, 5 * 1024**3)] == [
        "-",
        "0 B",
        "1023 B",
        "1.5 KiB",
        "5.0 GiB",
    ]


class _Tty(io.StringIO):
    """A terminal stand-in that tells the test how many frames the spinner has drawn."""

    def __init__(self) -> None:
        super().__init__()
        self.frames = 0
        self.drawn = threading.Condition()

    def isatty(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self.drawn:
            self.frames += 1
            self.drawn.notify_all()
        return super().write(text)


def test_progress_only_on_tty_and_only_when_long() -> None:
    quiet = io.StringIO()
    with Progress(quiet, "compacting", delay=0.0, interval=0.01) as progress:
        assert not progress.enabled  # not a terminal: no spinner thread at all
    assert quiet.getvalue() == ""
    fast = _Tty()
    with Progress(fast, "compacting", delay=3600.0):
        pass
    assert fast.getvalue() == ""
    slow = _Tty()
    with Progress(slow, "compacting x", delay=0.0, interval=0.01), slow.drawn:
        assert slow.drawn.wait_for(lambda: slow.frames >= 2, timeout=60)  # two frames drawn
    text = slow.getvalue()
    assert "compacting x… " in text and text.endswith("\r\033[K")

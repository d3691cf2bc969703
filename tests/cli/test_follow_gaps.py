"""``inspect events --follow`` on a rotating set that rotates records out between two polls:
those records are gone by design, but the follower says so on stderr instead of silently
skipping them."""

from __future__ import annotations

import json
import signal
from pathlib import Path

from papyra.cli.follow import EventTail
from papyra.cli.output import format_ts
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.models import PersistedEvent
from tests.cli.conftest import T0, start_follower

MAX_BYTES, MAX_FILES = 600, 3  # about four events per file: twelve events in the set


def write(backend: RotatingFilePersistence, first: int, count: int, *, t0: float = T0) -> None:
    for i in range(first, first + count):
        backend.record_event(
            PersistedEvent(actor_address="local:1", event_type="Tick", payload={"i": i}, timestamp=t0 + i)
        )
    backend.flush()


def test_tail_reports_a_gap_only_when_printed_events_were_rotated_out(tmp_path: Path) -> None:
    path = tmp_path / "g.log"
    writer = RotatingFilePersistence(path, max_bytes=MAX_BYTES, max_files=MAX_FILES, fsync="never")
    reader = RotatingFilePersistence(path, max_bytes=MAX_BYTES, max_files=MAX_FILES, fsync="never")
    try:
        write(writer, 0, 5)
        tail = EventTail()
        tail.seen(list(reader.list_events()))
        assert tail.newest == T0 + 4

        write(writer, 5, 3)  # the printed events are still in the set: no gap
        polled = list(reader.list_events(since=tail.since))
        assert tail.gap(polled) is None
        assert [r.payload["i"] for r in tail.new(polled)] == [5, 6, 7]

        write(writer, 8, 40)  # rotates events 0..~35 out of the three-file set
        polled = list(reader.list_events(since=tail.since))
        oldest = min(r.payload["i"] for r in polled)
        assert oldest > 8, "events 8.. were rotated out before this poll"
        assert tail.gap(polled) == (T0 + 7, T0 + oldest)
        fresh = tail.new(polled)
        assert [r.payload["i"] for r in fresh] == list(range(oldest, 48))

        write(writer, 48, 1)  # the follower caught up: no gap any more
        polled = list(reader.list_events(since=tail.since))
        assert tail.gap(polled) is None and [r.payload["i"] for r in tail.new(polled)] == [48]
        assert tail.gap([]) is None
    finally:
        writer.close()
        reader.close()


def test_follow_warns_on_stderr_when_rotation_outruns_it(tmp_path: Path) -> None:
    """A real follower process and a fast writer: the follower is stopped (SIGSTOP) while the
    writer rotates everything it printed out of the set, then resumed. It still prints the rest
    of the file it had open (tail -F), warns once about the records rotated away unseen, and
    prints the rest once, in order."""
    path = tmp_path / "f.log"
    # it sleeps 2 s after each poll: the SIGSTOP below (sent as soon as the test read the first
    # five events) lands in that sleep, not in the next poll, even on a loaded machine
    follower = start_follower(
        path, "--max-bytes", str(MAX_BYTES), "--max-files", str(MAX_FILES), interval=2.0
    )
    writer = RotatingFilePersistence(path, max_bytes=MAX_BYTES, max_files=MAX_FILES, fsync="never")

    def payloads(lines: list[str]) -> list[int]:
        return [json.loads(line)["payload"]["i"] for line in lines]

    def warnings(lines: list[str]) -> list[str]:
        return [line for line in lines if "may be missing" in line]

    try:
        write(writer, 0, 5)
        follower.wait_for(lambda lines: len(lines) >= 5, what="the first five events")
        follower.proc.send_signal(signal.SIGSTOP)  # printed at the end of a poll: it sleeps until the next
        try:
            write(writer, 5, 60)  # far more than the set holds: 0..~52 are rotated out
        finally:
            follower.proc.send_signal(signal.SIGCONT)
        follower.wait_for(lambda lines: 64 in payloads(lines), what="the last event")
        follower.wait_for(warnings, what="the gap warning", stream="stderr")
    finally:
        writer.close()
        follower.proc.send_signal(signal.SIGINT)
        code = follower.finish()
    assert code == 0, follower.err
    printed = payloads(follower.lines)
    [warning] = warnings(follower.err_lines)
    assert printed[-1] == 64
    assert printed[:5] == [0, 1, 2, 3, 4]
    assert printed == sorted(set(printed)), "each record once, in order"
    [jump] = [k for k in range(len(printed) - 1) if printed[k + 1] != printed[k] + 1]
    assert printed[jump] >= 5  # the rest of the file it had open was printed
    assert warning.startswith(
        f"⚠ events after {format_ts(T0 + printed[jump])} up to {format_ts(T0 + printed[jump + 1])} "
    )

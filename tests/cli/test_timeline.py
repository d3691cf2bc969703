# ruff: noqa: RUF001
"""``papyra inspect timeline``: counts per bucket and series as an aligned bar chart (golden),
JSON and ndjson, ASCII bars where the terminal needs them, and a clear error for too many
buckets."""

from __future__ import annotations

import json
from pathlib import Path

from papyra.persistence.models import PersistedDeadLetter, PersistedEvent
from tests.cli.conftest import T0, invoke, run_cli, write_store


def test_timeline_text_golden(store: Path, tmp_path: Path) -> None:
    r = invoke("inspect", "timeline", "--path", str(store), "--bucket", "2m", tmp=tmp_path)
    assert (r.code, r.err) == (0, "")
    assert r.out == (
        "Timeline of json store <tmp>/papyra.ndjson (buckets of 120 s)\n"
        "bucket                    ActorStarted  ActorStopped  dead_letters  total\n"
        "2024-06-10T06:12:00.000Z             1             0             0      1  " + "█" * 20 + "\n"
        "2024-06-10T06:14:00.000Z             2             0             0      2  " + "█" * 40 + "\n"
        "2024-06-10T06:16:00.000Z             0             2             0      2  " + "█" * 40 + "\n"
        "2024-06-10T06:18:00.000Z             0             0             1      1  " + "█" * 20 + "\n"
    )


def test_timeline_shows_a_burst_and_quiet_buckets(tmp_path: Path) -> None:
    records: list[object] = [
        PersistedEvent(actor_address="local:1", event_type="ActorCrashed", timestamp=T0 + 600 + i / 10)
        for i in range(30)
    ]
    records += [
        PersistedDeadLetter(target="local:1", message_type="str", timestamp=T0 + 61 + i) for i in range(3)
    ]
    records.sort(key=lambda r: r.timestamp)  # type: ignore[attr-defined]
    path = write_store(tmp_path / "burst.ndjson", records)
    r = invoke("inspect", "timeline", "--path", str(path), "--bucket", "5m", "--format", "json")
    doc = json.loads(r.out)
    assert (doc["bucket_seconds"], doc["series"]) == (300.0, ["ActorCrashed", "dead_letters"])
    assert [(b["total"], b["counts"]) for b in doc["buckets"]] == [
        (3, {"ActorCrashed": 0, "dead_letters": 3}),
        (0, {"ActorCrashed": 0, "dead_letters": 0}),
        (30, {"ActorCrashed": 30, "dead_letters": 0}),
    ]
    assert doc["buckets"][0]["start"] == (T0 + 61) // 300 * 300
    r = invoke("inspect", "timeline", "--path", str(path), "--bucket", "5m", "--event-type", "Nope",
               "--format", "ndjson")
    assert [json.loads(line)["counts"] for line in r.out.splitlines()] == [{"dead_letters": 3}]


def test_timeline_ascii_bars_and_too_many_buckets(store: Path) -> None:
    r = run_cli("inspect", "timeline", "--path", str(store), "--bucket", "2m", PYTHONIOENCODING="ascii")
    assert r.returncode == 0 and r.stdout.splitlines()[3].endswith("  " + "#" * 40)
    r = invoke("inspect", "timeline", "--path", str(store), "--bucket", "0.01")
    assert r.code == 64 and "use a larger --bucket" in r.err


def test_timeline_of_an_empty_window(store: Path) -> None:
    r = invoke("inspect", "timeline", "--path", str(store), "--since", "2030-01-01")
    assert r.code == 0 and r.out.endswith("ℹ No events or dead letters in the window.\n")


def test_timeline_counts_relative_timestamps_apart_from_the_buckets(tmp_path: Path) -> None:
    path = write_store(tmp_path / "mixed.ndjson", [
        PersistedEvent(actor_address="local:1", event_type="ActorStarted", payload=None, timestamp=596.98),
        PersistedDeadLetter(target="local:1", message_type="str", payload="x", timestamp=12.5),
        PersistedEvent(actor_address="local:1", event_type="ActorStarted", payload=None, timestamp=T0),
        PersistedEvent(actor_address="local:1", event_type="ActorStopped", payload=None, timestamp=T0 + 90),
    ])
    r = invoke("inspect", "timeline", "--path", str(path), "--format", "json")
    assert r.code == 0, r.err
    doc = json.loads(r.out)
    assert doc["relative_timestamp_records"] == 2
    assert [(b["start"], b["total"]) for b in doc["buckets"]] == [(T0 - 20, 1), (T0 + 40, 1)]
    r = invoke("inspect", "timeline", "--path", str(path), "--utc")
    assert r.code == 0, r.err
    assert r.out.endswith(
        "ℹ 2 records with relative (pre-2001, monotonic-clock) timestamps are in no bucket.\n"
    )
    r = invoke("inspect", "timeline", "--path", str(path), "--format", "ndjson")
    assert r.code == 0 and len(r.out.splitlines()) == 2
    assert "2 records with relative" in r.err
    only_relative = write_store(tmp_path / "old.ndjson", [
        PersistedEvent(actor_address="local:1", event_type="ActorStarted", payload=None, timestamp=596.98),
    ])
    r = invoke("inspect", "timeline", "--path", str(only_relative))
    assert r.code == 0 and r.out.endswith("ℹ 1 records with relative (pre-2001, monotonic-clock) "
                                          "timestamps are in no bucket.\n")

# ruff: noqa: RUF001
"""``papyra inspect …``: listings, filters before the limit, time windows, formats, summary."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.cli.conftest import T0, invoke, write_store

HEADER = "time                      event         actor    payload\n"
E = [
    '2024-06-10T06:13:20.000Z  ActorStarted  local:1  {"n":0}\n',
    '2024-06-10T06:14:20.000Z  ActorStarted  local:2  {"n":1}\n',
    '2024-06-10T06:15:20.000Z  ActorStarted  local:1  {"n":2}\n',
    '2024-06-10T06:16:20.000Z  ActorStopped  local:2  {"n":3}\n',
    '2024-06-10T06:17:20.000Z  ActorStopped  local:1  {"n":4}\n',
]


def test_events_text(store: Path) -> None:
    r = invoke("inspect", "events", "--path", str(store))
    assert (r.code, r.err) == (0, "")
    assert r.out == HEADER + "".join(E)


def test_events_filters_apply_before_limit(store: Path) -> None:
    r = invoke("inspect", "events", "--path", str(store), "--event-type", "ActorStarted", "--limit", "2")
    assert r.out == HEADER + E[1] + E[2]
    r = invoke("inspect", "events", "--path", str(store), "--actor", "local:1", "--reverse")
    assert r.out == HEADER + E[4] + E[2] + E[0]
    r = invoke(
        "inspect", "events", "--path", str(store), "--event-type", "ActorStopped", "--actor", "local:2"
    )
    assert r.out == HEADER + E[3]


def test_events_limit_without_filters(store: Path) -> None:
    r = invoke("inspect", "events", "--path", str(store), "--limit", "2", "--reverse")
    assert r.out == HEADER + E[4] + E[3]


@pytest.mark.parametrize(
    ("since", "until", "expected"),
    [
        (str(int(T0 + 100)), "2024-06-10T06:16:00Z", [2]),
        ("2024-06-10T06:16:20", None, [3, 4]),  # naive ISO is UTC; bounds are inclusive
        ("2024-06-10 06:14:20+00:00", str(T0 + 60.0), [1]),
        ("9999d", None, [0, 1, 2, 3, 4]),
        (None, "1h", [0, 1, 2, 3, 4]),
        ("15m", None, []),
    ],
)
def test_events_time_window(store: Path, since: str | None, until: str | None, expected: list[int]) -> None:
    args = ["inspect", "events", "--path", str(store), "--format", "ndjson"]
    if since:
        args += ["--since", since]
    if until:
        args += ["--until", until]
    r = invoke(*args)
    assert r.code == 0
    assert [json.loads(line)["payload"]["n"] for line in r.out.splitlines()] == expected


def test_since_after_until_is_usage_error(store: Path) -> None:
    r = invoke("inspect", "events", "--path", str(store), "--since", "1h", "--until", "2h")
    assert r.code == 64 and r.err.startswith("papyra: error: --since (")


def test_bad_time_is_usage_error(store: Path) -> None:
    r = invoke("inspect", "audits", "--path", str(store), "--since", "yesterday-ish")
    assert r.code == 64
    assert "invalid time 'yesterday-ish'" in r.err and r.err.count("\n") == 1


def test_events_ndjson_and_json(store: Path) -> None:
    r = invoke("inspect", "events", "--path", str(store), "--format", "ndjson", "--limit", "1")
    assert r.out == (
        '{"kind":"event","system_id":"local","actor_address":"local:1","event_type":"ActorStopped",'
        '"payload":{"n":4},"timestamp":1718000240.0}\n'
    )
    doc = json.loads(invoke("inspect", "events", "--path", str(store), "--format", "json").out)
    assert (doc["command"], doc["kind"], doc["count"]) == ("inspect events", "events", 5)
    assert doc["records"][0] == {
        "kind": "event",
        "system_id": "local",
        "actor_address": "local:1",
        "event_type": "ActorStarted",
        "payload": {"n": 0},
        "timestamp": T0,
    }


def test_audits_text(store: Path) -> None:
    r = invoke("inspect", "audits", "--path", str(store))
    assert r.out == (
        "time                      total  alive  stopping  restarting  registry  dead_letters\n"
        "2024-06-10T06:18:20.000Z      2      1         1           0         2             1\n"
    )


def test_dead_letters_text_and_filters(store: Path) -> None:
    r = invoke("inspect", "dead-letters", "--path", str(store))
    assert r.out == (
        "time                      target   message_type  payload\n"
        '2024-06-10T06:19:20.000Z  local:2  str           "hello"\n'
    )
    assert invoke("inspect", "dead-letters", "--path", str(store), "--target", "local:2").out == r.out
    assert invoke("inspect", "dead-letters", "--path", str(store), "--message-type", "str").out == r.out
    none = invoke("inspect", "dead-letters", "--path", str(store), "--target", "local:9")
    assert none.out == "ℹ No dead letters match the filters.\n"


@pytest.mark.parametrize(
    ("command", "message"),
    [
        ("events", "ℹ No events recorded.\n"),
        ("audits", "ℹ No audit reports recorded.\n"),
        ("dead-letters", "ℹ No dead letters recorded.\n"),
    ],
)
def test_empty_listings(tmp_path: Path, command: str, message: str) -> None:
    path = write_store(tmp_path / "empty.ndjson", [])
    r = invoke("inspect", command, "--path", str(path), "--reverse")
    assert (r.code, r.out) == (0, message)


def test_summary_text(store: Path, tmp_path: Path) -> None:
    r = invoke("inspect", "summary", "--path", str(store), tmp=tmp_path)
    assert r.out == (
        "Summary of json store <tmp>/papyra.ndjson\n"
        "  latest audit: 2024-06-10T06:18:20.000Z\n"
        "  Actors:       total=2 alive=1 stopping=1 restarting=0\n"
        "  Registry:     size=2 orphans=0 dead=0\n"
        "  Dead letters: 1\n"
        "  records:      events=5 audits=1 dead_letters=1\n"
        "  time range:   2024-06-10T06:13:20.000Z -> 2024-06-10T06:19:20.000Z\n"
    )


def test_summary_json_and_without_audits(store: Path, tmp_path: Path) -> None:
    doc = json.loads(invoke("inspect", "summary", "--path", str(store), "--format", "json").out)
    assert doc["counts"] == {"events": 5, "audits": 1, "dead_letters": 1}
    assert doc["latest_audit"]["total_actors"] == 2
    assert (doc["first_timestamp"], doc["last_timestamp"]) == (T0, T0 + 360)
    r = invoke("inspect", "summary", "--path", str(store), "--until", str(T0 + 100), tmp=tmp_path)
    assert r.out == (
        "Summary of json store <tmp>/papyra.ndjson\n"
        "ℹ No audit data available.\n"
        "  records:    events=2 audits=0 dead_letters=0\n"
        "  time range: 2024-06-10T06:13:20.000Z -> 2024-06-10T06:14:20.000Z\n"
    )


def test_follow_rejects_json_and_until(store: Path) -> None:
    assert invoke("inspect", "events", "--path", str(store), "--follow", "--format", "json").code == 64
    assert invoke("inspect", "events", "--path", str(store), "--follow", "--until", "1h").code == 64


def test_retention_options_apply_to_reads(store: Path) -> None:
    r = invoke("inspect", "events", "--path", str(store), "--max-records", "3", "--format", "ndjson")
    assert [json.loads(x)["payload"]["n"] for x in r.out.splitlines()] == [4]

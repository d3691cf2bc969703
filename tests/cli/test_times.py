"""Times: a time without a zone is local time (as journalctl reads it), ``--utc`` makes input
and output UTC, and output always shows the zone."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from papyra.cli.timeparse import parse_time
from tests.cli.conftest import T0, invoke, run_cli

BERLIN = "CET-1CEST,M3.5.0,M10.5.0/3"  # POSIX rule: no tz database needed; +02:00 in June


@pytest.fixture
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", BERLIN)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_a_time_without_zone_is_local_unless_utc(berlin: None) -> None:
    assert parse_time("2024-06-10T08:13:20") == T0  # 06:13:20Z
    assert parse_time("2024-06-10T06:13:20", utc=True) == T0
    assert parse_time("2024-06-10T06:13:20Z") == parse_time("2024-06-10T08:13:20+02:00") == T0
    assert parse_time("2024-06-10") == T0 - (6 * 3600 + 13 * 60 + 20) - 2 * 3600  # local midnight


def test_listing_reads_and_shows_local_time_with_its_zone(store: Path, berlin: None) -> None:
    r = invoke("inspect", "events", "--path", str(store), "--since", "2024-06-10T08:16:20", "--limit", "2")
    assert r.code == 0, r.err
    assert r.out.splitlines()[1:] == [
        '2024-06-10T08:16:20.000+02:00  ActorStopped  local:2  {"n":3}',
        '2024-06-10T08:17:20.000+02:00  ActorStopped  local:1  {"n":4}',
    ]
    r = invoke(
        "inspect", "events", "--path", str(store), "--utc", "--since", "2024-06-10T06:16:20", "--limit", "2"
    )
    assert r.out.splitlines()[1:] == [
        '2024-06-10T06:16:20.000Z  ActorStopped  local:2  {"n":3}',
        '2024-06-10T06:17:20.000Z  ActorStopped  local:1  {"n":4}',
    ]
    # --utc before or after the time: same reading
    since = ("--since", "2024-06-10T06:16:20")
    r = invoke("inspect", "events", *since, "--utc", "--path", str(store), "--format", "json")
    assert [e["timestamp"] for e in json.loads(r.out)["records"]] == [T0 + 180, T0 + 240]


def test_a_subprocess_uses_the_tz_environment(store: Path) -> None:
    r = run_cli("inspect", "summary", "--path", str(store), TZ=BERLIN)
    assert r.returncode == 0
    assert "  time range:   2024-06-10T08:13:20.000+02:00 -> 2024-06-10T08:19:20.000+02:00" in r.stdout
    help_text = " ".join(run_cli("inspect", "events", "--help").stdout.split())
    assert "(a time without a zone is local time, UTC with --utc)" in help_text

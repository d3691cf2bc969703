"""``papyra persistence copy --from SPEC --to SPEC`` between file stores and a real Redis."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from papyra.cli.errors import EXIT_OK, EXIT_OPERATIONAL, EXIT_USAGE
from tests.cli.conftest import invoke
from tests.persistence.test_copy_store import earlier_release_file
from tests.support.redis_server import RedisServer


@pytest.mark.redis
def test_copy_file_to_redis_and_back_with_dry_run_first(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    source = earlier_release_file(tmp_path / "legacy.ndjson")
    redis_spec = f"{redis_server.url}?prefix=c{uuid.uuid4().hex[:8]}&system_id=legacy"
    dry = invoke("persistence", "copy", "--from", str(source), "--to", redis_spec, "--dry-run")
    assert dry.code == EXIT_OK, dry.err
    assert "Would copy 38 records" in dry.out
    real = invoke("persistence", "copy", "--from", f"json:{source}", "--to", redis_spec, "--format", "json")
    assert real.code == EXIT_OK, real.err
    doc = json.loads(real.out)["copy"]
    assert doc["verified"] is True and doc["counts"] == {"event": 30, "audit": 3, "dead_letter": 5}
    again = invoke("persistence", "copy", "--from", str(source), "--to", redis_spec)
    assert again.code == EXIT_OPERATIONAL and "already holds records" in again.err
    back = tmp_path / "back.ndjson"
    home = invoke("persistence", "copy", "--from", redis_spec, "--to", f"json:{back}")
    assert home.code == EXIT_OK, home.err
    assert "Verified" in home.out and "events" in home.out
    events = invoke("inspect", "events", "--path", str(back), "--format", "ndjson")
    assert len(events.out.splitlines()) == 30


def test_copy_rejects_a_bad_spec(tmp_path: Path) -> None:
    result = invoke("persistence", "copy", "--from", "ftp://x/y", "--to", str(tmp_path / "t.ndjson"))
    assert result.code == EXIT_USAGE and "unknown store SPEC" in result.err
    result = invoke("persistence", "copy", "--to", str(tmp_path / "t.ndjson"))
    assert result.code == EXIT_USAGE and "--from" in result.err


@pytest.mark.parametrize(
    "args",
    [
        ("persistence", "copy", "--from", "rediss://u:S3cret@127.0.0.1:1/0?prefix=a&system_id=b&bogus=1",
         "--to", "{tmp}/t.ndjson"),
        ("persistence", "copy", "--from", "{tmp}/s.ndjson", "--to", "redis://127.0.0.1:1/0?bogus=1"),
        ("persistence", "scan", "--redis-url", "redis://127.0.0.1:1/0?bogus=1"),
        ("doctor", "run", "--redis-url", "unix:///tmp/nope.sock?prefix=a"),
    ],
)
def test_an_unknown_redis_url_parameter_is_a_usage_error_naming_it(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    from tests.cli.conftest import write_store

    write_store(tmp_path / "s.ndjson")
    r = invoke(*(a.replace("{tmp}", str(tmp_path)) for a in args))
    assert r.code == 64, r.err
    assert r.err.startswith("papyra: error: unknown query parameter ") and r.err.count("\n") == 1
    assert "'bogus'" in r.err or "'prefix'" in r.err
    assert "socket_timeout" in r.err and "S3cret" not in r.err
    spec_allowed = "allowed: prefix, system_id, cluster; the redis client's "
    assert (spec_allowed in r.err) == ("copy" in args)  # a SPEC's own parameters are named too
    assert not (tmp_path / "t.ndjson").exists()


@pytest.mark.parametrize(
    "url_and_flags",
    [
        ("redis://127.0.0.1:1/0?socket_timeout=1&client_name=x&health_check_interval=3",),
        ("redis://127.0.0.1:1/0?read_from_replicas=1", "--redis-cluster"),
    ],
)
def test_known_redis_url_parameters_reach_the_client(url_and_flags: tuple[str, ...]) -> None:
    r = invoke("persistence", "scan", "--redis-url", *url_and_flags, "--lock-timeout", "1")
    assert r.code == 3 and "unknown query parameter" not in r.err  # nothing listens on port 1


@pytest.mark.parametrize("option", ["--from", "--to"])
def test_a_redis_spec_whose_password_looks_like_a_query_is_refused_without_echoing_it(
    tmp_path: Path, option: str
) -> None:
    spec = "redis://:pw?zz9secret@127.0.0.1:1/0?prefix=a"
    other = str(tmp_path / "s.ndjson")
    from tests.cli.conftest import write_store

    write_store(tmp_path / "s.ndjson")
    pair = (spec, other) if option == "--from" else (other, spec)
    r = invoke("persistence", "copy", "--from", pair[0], "--to", pair[1], "--format", "json")
    assert r.code == 64 and "percent-encode" in r.err
    assert "zz9secret" not in r.out + r.err

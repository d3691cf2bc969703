"""ActorAddress: string form, parsing, dict round trip, equality."""

from __future__ import annotations

import pytest

from papyra.address import ActorAddress


def test_actor_address_is_stable_and_stringifiable() -> None:
    addr = ActorAddress(system="test-system", actor_id=42)
    assert addr.system == "test-system"
    assert addr.actor_id == 42
    assert str(addr) == "test-system:42"


def test_roundtrip_string_parse() -> None:
    addr = ActorAddress("local", 42)
    assert ActorAddress.parse(str(addr)) == addr


def test_system_id_with_colon_round_trips() -> None:
    addr = ActorAddress("host:9000", 7)
    assert ActorAddress.parse(str(addr)) == addr


def test_equality_and_hash() -> None:
    a, b, c = ActorAddress("local", 1), ActorAddress("local", 1), ActorAddress("local", 2)
    assert a == b
    assert a != c
    assert len({a, b, c}) == 2


def test_dict_round_trip() -> None:
    addr = ActorAddress("local", 3)
    assert addr.to_dict() == {"system": "local", "actor_id": 3}
    assert ActorAddress.from_dict({"system": "local", "actor_id": "3"}) == addr


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ("not-an-address", "Expected"),
        (":1", "Missing system id"),
        ("local:abc", "must be an int"),
        (123, "Expected"),
    ],
)
def test_parse_rejects_malformed(raw: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ActorAddress.parse(raw)  # type: ignore[arg-type]

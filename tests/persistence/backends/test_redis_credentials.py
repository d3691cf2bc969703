"""Redis passwords never leak: not in ``repr``/``str`` of the config, its ``to_dict()``, the
backend's ``describe()``/metrics, exceptions (message, ``repr``, traceback), log records of any
level, nor the CLI's stdout/stderr (with and without ``--debug``; URL from the flag or from
``PAPYRA_REDIS_URL``). A URL whose user information cannot be parsed is a ConfigurationError
(CLI exit 64) that never echoes it. Checked on examples and as a property over printable-ASCII
passwords, typed raw and percent-encoded, against a real redis-server."""

from __future__ import annotations

import io
import json
import logging
import socket
import traceback
import urllib.parse
import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from papyra.cli.app import run
from papyra.cli.redact import redact
from papyra.exceptions import ConfigurationError, PapyraError
from papyra.persistence.backends.redis import RedisStreamsConfig, RedisStreamsPersistence
from papyra.persistence.backends.redis_config import redact_url
from tests.persistence.conftest import event
from tests.support.redis_server import RedisServer, require_redis_binary

pytestmark = pytest.mark.redis

PASSWORDS = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), min_size=4, max_size=24)


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.texts: list[str] = []
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(self.format(record))
        self.texts.append(repr(record.__dict__))


@pytest.fixture
def captured_logs() -> Iterator[_Capture]:
    root = logging.getLogger()
    handler = _Capture()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)


def _exception_texts(exc: BaseException) -> list[str]:
    return [str(exc), repr(exc), "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))]


def _cli(argv: list[str], environ: dict[str, str]) -> list[str]:
    out, err = io.StringIO(), io.StringIO()
    run(argv, stdout=out, stderr=err, environ=environ)
    return [out.getvalue(), err.getvalue()]


def every_channel(url: str, prefix: str) -> str:
    """Everything Papyra shows about ``url``, except log records (captured by the caller)."""
    texts: list[str] = []
    try:
        config = RedisStreamsConfig(url=url, prefix=prefix, socket_timeout=5.0)
    except ConfigurationError as exc:
        texts += _exception_texts(exc)
    else:
        texts += [repr(config), str(config), json.dumps(config.to_dict()), config.safe_url]
        backend = RedisStreamsPersistence(config)
        try:
            texts += [repr(backend), json.dumps(backend.describe(), default=str)]
            try:
                backend.list_events(limit=1)
            except PapyraError as exc:
                texts += _exception_texts(exc)
            texts.append(json.dumps(backend.metrics.snapshot(), default=str))
        finally:
            backend.close()
    for debug in ([], ["--debug"]):
        texts += _cli(["inspect", "summary", "--redis-url", url, "--prefix", prefix, *debug], {})
        texts += _cli(["inspect", "summary", f"--redis-url={url}", "--prefix", prefix, *debug], {})
        texts += _cli(["inspect", "summary", "--backend", "redis", "--prefix", prefix, *debug],
                      {"PAPYRA_REDIS_URL": url})
    return "\n".join(texts)


def grams(text: str) -> set[str]:
    return {text[i : i + 4] for i in range(len(text) - 3)}


def leaks(password: str, shown: str, baseline: str) -> set[str]:
    """The 4-character pieces of ``password`` that ``shown`` contains and that are not just
    ordinary text every run shows (``baseline``: the same channels for a neutral password)."""
    return {g for g in grams(password) if g in shown and g not in baseline}


def _url(port: int, userinfo: str) -> str:
    return f"redis://{userinfo}@127.0.0.1:{port}/0"


@pytest.fixture(scope="module")
def secured() -> Iterator[RedisServer]:
    server = RedisServer(require_redis_binary(), password="Ab/Cd@x#y?z=w% q:1").start()
    try:
        yield server
    finally:
        server.cleanup()


def test_a_special_character_password_percent_encoded_works_and_never_shows(
    secured: RedisServer, captured_logs: _Capture
) -> None:
    password = secured.password
    assert password is not None
    url = _url(secured.port, ":" + urllib.parse.quote(password, safe=""))
    prefix = f"cred{uuid.uuid4().hex[:8]}"
    backend = RedisStreamsPersistence(RedisStreamsConfig(url=url, prefix=prefix))
    try:
        backend.record_event(event(1))
        assert backend.flush(60)
        assert [e.payload["n"] for e in backend.list_events()] == [1]
    finally:
        backend.close()
    shown = every_channel(url, prefix) + "\n".join(captured_logs.texts)
    assert not leaks(password, shown, "") and "%2FCd" not in shown


@pytest.mark.parametrize(
    "userinfo",
    [":Ab/Cd", ":x@y", ":a#b1", ":a?b1", "user:p w1", ":50%off", "us/er:pw", ":Ab/Cd@x#y?z=w% q:1", ":@00?"],
)
def test_a_user_part_that_cannot_be_parsed_is_a_configuration_error_that_never_echoes_it(
    userinfo: str, captured_logs: _Capture
) -> None:
    url = _url(1, userinfo)
    with pytest.raises(ConfigurationError, match="percent-encode") as info:
        RedisStreamsConfig(url=url)
    assert userinfo.split(":", 1)[-1] not in str(info.value) and "127.0.0.1" not in str(info.value)
    out, err = _cli(["inspect", "summary", "--redis-url", url], {})
    assert "percent-encode" in err and userinfo not in out + err
    for debug in ([], ["--debug"]):
        argv = ["inspect", "summary", "--redis-url", url, *debug]
        assert run(argv, stdout=io.StringIO(), stderr=io.StringIO()) == 64


@pytest.mark.parametrize(
    ("url", "password", "shown"),
    [
        ("redis://:Ab/Cd@host:6379/0", "Ab/Cd", "redis://***@host:6379/0"),
        ("redis://:x@y@host", "x@y", "redis://***@host"),
        ("redis://user:p%40ss@host/0?password=zzzz&db=1", "p%40ss", "redis://user:***@host/0?password=***&db=1"),
        ("redis://secret@host", "secret", "redis://***@host"),
        ("not a url but user@host", "user", "***"),
    ],
)
def test_redaction_fails_closed(url: str, password: str, shown: str) -> None:
    assert redact_url(url) == shown
    texts = (f"failed ({url}): refused", f"cannot reach '{url}'", url) if "://" in url else ()
    for text in texts:  # the CLI's free-text redaction
        assert password not in redact(text) and "zzzz" not in redact(text)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


_PLACEMENTS = (
    lambda pw: ":" + pw,  # as the user types it
    lambda pw: ":" + urllib.parse.quote(pw, safe=""),  # percent-encoded
    lambda pw: "app:" + pw,  # with a user name
)
_BASELINES: dict[tuple[int, int], str] = {}


def _baseline(port: int, index: int, logs: _Capture) -> str:
    """What every run shows anyway, for neutral passwords on both paths (computed once)."""
    key = (port, index)
    if key not in _BASELINES:
        place = _PLACEMENTS[index]
        logs.texts.clear()
        text = every_channel(_url(port, place("Qz9/Kw8@Vy7")), "credprop")  # the ConfigurationError path
        text += every_channel(_url(port, place("Qz9Kw8Vy7")), "credprop")  # the connecting path
        _BASELINES[key] = text + "\n".join(logs.texts)
    return _BASELINES[key]


@pytest.fixture(scope="module")
def closed_port() -> int:
    """A port nothing listens on (connections are refused at once)."""
    return _closed_port()


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(password=PASSWORDS)
@example(password="@00?")  # an empty password, then "00?@host" read as host and query
@example(password="Ab/Cd@x#y?z=w% q:1")
def test_no_channel_shows_any_4_characters_of_a_printable_ascii_password(
    password: str, redis_server: RedisServer, closed_port: int, captured_logs: _Capture
) -> None:
    for port in (redis_server.port, closed_port):  # an AUTH error from a real server; no server
        for index, place in enumerate(_PLACEMENTS):
            baseline = _baseline(port, index, captured_logs)
            captured_logs.texts.clear()
            shown = every_channel(_url(port, place(password)), "credprop") + "\n".join(captured_logs.texts)
            found = leaks(password, shown, baseline)
            assert not found, (place(password), found)

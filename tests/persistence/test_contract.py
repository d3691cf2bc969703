"""Papyra's own four backends run through the public conformance kit (papyra.testing) — one
contract suite for built-in and third-party backends."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import pytest

from papyra.persistence.base import PersistenceBackend
from papyra.testing import BackendContract, MakeBackend
from tests.persistence.conftest import BACKEND_FACTORIES, PER_KIND_RETENTION


class _BuiltinContract(BackendContract):
    backend: ClassVar[str]

    @pytest.fixture
    def make_backend(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[MakeBackend]:
        factory = BACKEND_FACTORIES[self.backend]
        if self.backend == "redis":
            factory = functools.partial(factory, server=request.getfixturevalue("redis_server"))
        made: list[PersistenceBackend] = []

        def make(**kwargs: object) -> PersistenceBackend:
            made.append(factory(tmp_path, **kwargs))
            return made[-1]

        yield make
        for backend in made:
            backend.close()


class TestMemoryBackendContract(_BuiltinContract):
    backend = "memory"


class TestJsonFileBackendContract(_BuiltinContract):
    backend = "json"


class TestRotatingFileBackendContract(_BuiltinContract):
    backend = "rotating"


class TestRedisStreamsBackendContract(_BuiltinContract):
    backend = "redis"
    per_kind_retention = "redis" in PER_KIND_RETENTION
    reports_bytes = False  # Redis cannot tell a stream's bytes

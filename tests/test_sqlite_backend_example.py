"""The worked third-party backend (examples/sqlite_backend.py) passes the public conformance kit,
repairs only undecodable rows, and serves the CLI through PAPYRA_SETTINGS_MODULE."""

from __future__ import annotations

import importlib.util
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from papyra.persistence.base import PersistenceBackend
from papyra.persistence.models import PersistenceRecoveryConfig, PersistenceRecoveryMode
from papyra.testing import BackendContract, MakeBackend, sample_event

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("sqlite_backend", EXAMPLES / "sqlite_backend.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


sqlite_backend = _load_example()


class TestSqliteExampleBackendContract(BackendContract):
    @pytest.fixture
    def make_backend(self, tmp_path: Path) -> Iterator[MakeBackend]:
        made: list[PersistenceBackend] = []

        def make(**kwargs: Any) -> PersistenceBackend:
            made.append(sqlite_backend.SqlitePersistence(tmp_path / f"store{len(made)}.sqlite3", **kwargs))
            return made[-1]

        yield make
        for backend in made:
            backend.close()


def test_recover_removes_only_undecodable_rows_and_quarantines_them(tmp_path: Path) -> None:
    path = tmp_path / "store.sqlite3"
    with sqlite_backend.SqlitePersistence(path) as store:
        for n in range(3):
            store.record_event(sample_event(n))
    with sqlite3.connect(path) as db:
        db.execute("UPDATE records SET line = ? WHERE id = 2", (b'{"kind": "event", "timest\n',))
    with sqlite_backend.SqlitePersistence(path) as store:
        scan = store.scan()
        assert [a.line for a in scan.anomalies] == [2]
        assert [e.timestamp for e in store.list_events()] == [0.0, 2.0]  # reads skip the bad row
        report = store.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.QUARANTINE))
        assert report.quarantined_files == (str(path),)
        assert not store.scan().has_anomalies
        assert [e.timestamp for e in store.list_events()] == [0.0, 2.0]
        again = store.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR))
        assert again.repaired_files == ()
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM quarantine").fetchone() == (1,)


def test_cli_reads_the_sqlite_store_through_the_settings_module(tmp_path: Path) -> None:
    path = tmp_path / "cli.sqlite3"
    with sqlite_backend.SqlitePersistence(path) as store:
        for n in range(4):
            store.record_event(sample_event(n, event_type="ActorCrashed" if n == 2 else "ActorStarted"))
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(EXAMPLES), os.environ.get("PYTHONPATH", "")]),
        "PAPYRA_SETTINGS_MODULE": "sqlite_backend.Settings",
        "PAPYRA_DB": str(path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "papyra", "inspect", "events", "--format", "json"],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    records = json.loads(result.stdout)["records"]
    types = [r["event_type"] for r in records]
    assert types == ["ActorStarted", "ActorStarted", "ActorCrashed", "ActorStarted"]
    scan = subprocess.run(
        [sys.executable, "-m", "papyra", "persistence", "scan"],
        capture_output=True, text=True, env=env, timeout=120, check=False, cwd=tmp_path,
    )
    assert scan.returncode == 0, scan.stdout + scan.stderr


def test_readme_kit_snippet_runs_in_a_third_party_pytest(tmp_path: Path) -> None:
    """The README's "a few lines" really run the kit: the snippet, with the SQLite example as
    MyBackend, collected and passed by a separate pytest in a directory outside our tree."""
    readme = (EXAMPLES.parent / "README.md").read_text()
    snippet = readme.split("## Writing a backend", 1)[1].split("```python\n", 1)[1].split("```", 1)[0]
    assert "from mypackage import MyBackend" in snippet
    (tmp_path / "mypackage.py").write_text(
        f"import sys\nsys.path.insert(0, {str(EXAMPLES)!r})\n"
        "from sqlite_backend import SqlitePersistence as MyBackend\n"
    )
    (tmp_path / "test_mybackend.py").write_text(snippet)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_mybackend.py"],
        capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")])},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "failed" not in result.stdout

"""Reads, scans and maintenance of a file store do not import portalocker (and so not redis,
asyncio or opentelemetry, which ``import portalocker`` drags in when redis is installed); the
writer does, when it first takes its per-batch store lock. Checked in a fresh interpreter."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

from papyra.persistence.grammar import encode_record
from tests.persistence.conftest import event

HEAVY = ("portalocker", "redis", "asyncio", "opentelemetry")

CHILD = textwrap.dedent(
    """
    import json, sys
    import papyra.persistence.json, papyra.persistence.backends.rotating
    from papyra.persistence.json import JsonFilePersistence
    from papyra.persistence.backends.rotating import RotatingFilePersistence
    from papyra.persistence.models import (
        PersistedEvent, PersistenceRecoveryConfig, PersistenceRecoveryMode,
    )

    HEAVY = {heavy!r}
    def loaded():
        return sorted(m for m in HEAVY if m in sys.modules)

    out = {{"after_import": loaded()}}
    backends = [
        JsonFilePersistence({json_path!r}),
        RotatingFilePersistence({rot_path!r}, max_bytes=4096, max_files=4),
    ]
    counts = []
    for b in backends:
        out.setdefault("anomalies", []).append(len(b.scan().anomalies))
        counts.append(len(b.list_events()))
        counts.append(len(b.list_events(limit=3)))
        b.list_audits(); b.list_dead_letters()
        b.recover(PersistenceRecoveryConfig(mode=PersistenceRecoveryMode.REPAIR))
        b.compact()
        b.metrics.snapshot()
        b.flush()
    out["counts"] = counts
    out["after_reads"] = loaded()
    b = backends[0]
    b.record_event(PersistedEvent(actor_address="local:x", timestamp=1e9))
    assert b.flush()
    out["after_write"] = loaded()
    for b in backends:
        b.close()
    print(json.dumps(out))
    """
)


def test_reads_and_maintenance_do_not_import_portalocker_but_writes_do(tmp_path: Path) -> None:
    json_path = tmp_path / "store.ndjson"
    rot_path = tmp_path / "rot.ndjson"
    lines = b"".join(encode_record(event(i)) for i in range(50))
    json_path.write_bytes(lines + b'{"kind":"ev')  # torn tail: recover() has work to do
    rot_path.write_bytes(lines[: len(lines) // 2].rsplit(b"\n", 1)[0] + b"\n")
    code = CHILD.format(heavy=HEAVY, json_path=str(json_path), rot_path=str(rot_path))
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["anomalies"][0] == 1  # the torn tail was seen (and repaired)
    assert out["counts"][:2] == [50, 3]
    assert out["after_import"] == []
    # scan, list, recover, compact, metrics take only filelock (some filelock versions load asyncio)
    assert [m for m in out["after_reads"] if m != "asyncio"] == []
    assert "portalocker" in out["after_write"]  # the writer's batch lock is portalocker


def test_importing_papyra_never_imports_pytest_only_the_conformance_kit_does() -> None:
    code = (
        "import sys, papyra, papyra.persistence.json, papyra.cli\n"
        "before = 'pytest' in sys.modules\n"
        "import papyra.testing\n"
        "print(before, 'pytest' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.split() == ["False", "True"]

"""Run Python code as another local user (``nobody``) for the root-only ownership tests.

The interpreter usually lives where that user cannot read (``/root/.pyenv``), so the child starts
as root, imports everything it needs (papyra, portalocker, filelock — the lazy imports included),
then drops to the other user for good (``setgroups``, ``setgid``, ``setuid``) before it touches a
store. Every file operation it does is therefore checked by the kernel as that user. Its result
comes back as the last line of stdout (JSON).
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

OTHER_USER = "nobody"
_ROOT = Path(__file__).resolve().parents[2]

_PRELUDE = """\
import json, os, sys
import filelock, portalocker, portalocker.portalocker  # while still root: see the module docs
from papyra.persistence.json import JsonFilePersistence
from papyra.persistence.backends.rotating import RotatingFilePersistence
from papyra.persistence.models import PersistedEvent
os.setgroups([])
os.setgid({gid})
os.setuid({uid})
assert os.geteuid() == {uid} and os.getegid() == {gid}

def event(n):
    return PersistedEvent(system_id="local", actor_address=f"local:{{n}}", event_type="ActorStarted",
                          payload={{"n": n}}, timestamp=float(n))

def report(value):
    print(json.dumps(value), flush=True)
"""


def other_ids() -> tuple[int, int]:
    """``(uid, gid)`` of the other user; skips the test when not root or the user is missing."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("needs root: the test runs a child as another user and chowns files to it")
    try:
        entry = pwd.getpwnam(OTHER_USER)
    except KeyError:
        pytest.skip(f"no local user {OTHER_USER!r} to run the child as")
    return entry.pw_uid, entry.pw_gid


def run_as_other(code: str) -> Any:
    """Run ``code`` (after the prelude: ``event(n)``, ``report(value)``, the backends) as the
    other user; returns the JSON value it reported last. Fails the test on a non-zero exit."""
    uid, gid = other_ids()
    env = dict(os.environ, PYTHONPATH=str(_ROOT))
    proc = subprocess.run(
        [sys.executable, "-c", _PRELUDE.format(uid=uid, gid=gid) + code],
        env=env,
        cwd="/",
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, f"child as {OTHER_USER} failed:\n{proc.stderr}"
    return json.loads(proc.stdout.strip().splitlines()[-1])


@contextmanager
def dir_of_other_user(mode: int = 0o750) -> Iterator[Path]:
    """A fresh directory owned by the other user (``mode``), reachable by it (its parent is a
    ``0711`` temp dir of root's); removed afterwards."""
    uid, gid = other_ids()
    base = Path(tempfile.mkdtemp(prefix="papyra-owner-"))
    try:
        os.chmod(base, 0o711)
        app = base / "app"
        app.mkdir()
        os.chown(app, uid, gid)
        os.chmod(app, mode)
        yield app
    finally:
        shutil.rmtree(base)

"""The README's code is documentation that must run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

README = Path(__file__).resolve().parent.parent / "README.md"


def test_using_it_snippet_runs_and_persists(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code = README.read_text().split("## Using it\n\n```python\n", 1)[1].split("```", 1)[0]
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    store = tmp_path / "var" / "papyra.ndjson"
    assert store.exists() and store.stat().st_size > 0
    assert oct(store.stat().st_mode & 0o777) == oct(0o600)
    assert set(os.listdir(tmp_path / "var")) == {"papyra.ndjson", "papyra.ndjson.lock"}

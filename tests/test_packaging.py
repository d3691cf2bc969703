"""Packaging a user can trust: the sdist and the wheel built from this tree carry the license the
metadata names, the project URLs and classifiers, the whole package, and (the sdist) everything a
packager needs to run the test suite from it."""

from __future__ import annotations

import email.parser
import os
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import papyra

ROOT = Path(__file__).resolve().parent.parent
_SKIP = {".git", ".venv", "build", "dist", "__pycache__", ".benchmarks"}


def _copy_tree(dest: Path) -> Path:
    """The source tree without caches and build output (a build writes into its source)."""

    def ignore(_dir: str, names: list[str]) -> set[str]:
        return {n for n in names if n in _SKIP or n.endswith((".egg-info", "_cache", ".pyc"))}

    return Path(shutil.copytree(ROOT, dest, ignore=ignore))


def _files_under(top: Path, *dirs: str, suffixes: tuple[str, ...] = (".py",)) -> set[str]:
    return {
        p.relative_to(top).as_posix()
        for d in dirs
        for p in (top / d).rglob("*")
        if p.is_file() and p.suffix in suffixes and "__pycache__" not in p.parts
    }


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``python -m build`` (sdist, then the wheel built *from the sdist*) on a copy of this tree,
    without build isolation: the setuptools and wheel of the ``test`` extra, no network."""
    pytest.importorskip("build")
    pytest.importorskip("wheel")
    work = tmp_path_factory.mktemp("packaging")
    src = _copy_tree(work / "src")
    out = work / "dist"
    proc = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(src)],
        capture_output=True,
        text=True,
        timeout=300,
        env={k: v for k, v in os.environ.items() if k != "PYTHONPATH"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    [sdist] = out.glob("papyra-*.tar.gz")
    [wheel] = out.glob("papyra-*.whl")
    return sdist, wheel


def _metadata(text: str) -> email.message.Message:
    return email.parser.Parser().parsestr(text)


def _check_metadata(meta: email.message.Message) -> None:
    assert meta["Name"] == "papyra" and meta["Version"] == papyra.__version__
    assert meta["License"] == "MIT"
    assert meta["Requires-Python"] == ">=3.10"
    classifiers = set(meta.get_all("Classifier") or [])
    assert "License :: OSI Approved :: MIT License" in classifiers
    assert {f"Programming Language :: Python :: 3.{minor}" for minor in range(10, 14)} <= classifiers
    assert [c for c in classifiers if c.startswith("Development Status :: ")]
    assert "Typing :: Typed" in classifiers
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    assert {"Source", "Issues"} <= set(urls) and all(u.startswith("https://") for u in urls.values())


def test_sdist_carries_license_metadata_package_and_the_whole_test_tree(dists: tuple[Path, Path]) -> None:
    sdist, _ = dists
    with tarfile.open(sdist) as tar:
        top = tar.getnames()[0].split("/")[0]
        names = {n[len(top) + 1 :] for n in tar.getnames() if n.startswith(top + "/")}
        license_text = tar.extractfile(f"{top}/LICENSE").read().decode()  # type: ignore[union-attr]
        meta = _metadata(tar.extractfile(f"{top}/PKG-INFO").read().decode())  # type: ignore[union-attr]
    assert license_text.startswith("MIT License\n")
    _check_metadata(meta)
    assert {"LICENSE", "README.md", "pyproject.toml", "setup.cfg", "papyra/py.typed"} <= names
    expected = _files_under(ROOT, "papyra", "tests", "examples", "benchmarks")
    expected |= _files_under(ROOT, "benchmarks", suffixes=(".md",))
    assert expected - names == set(), "missing from the sdist"
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]


def test_wheel_carries_the_package_and_its_license_but_no_tests(dists: tuple[Path, Path]) -> None:
    _, wheel = dists
    with zipfile.ZipFile(wheel) as whl:
        names = set(whl.namelist())
        [info] = {n.split("/")[0] for n in names if n.split("/")[0].endswith(".dist-info")}
        meta = _metadata(whl.read(f"{info}/METADATA").decode())
        licenses = [n for n in names if n.startswith(f"{info}/") and n.rsplit("/", 1)[-1] == "LICENSE"]
        assert len(licenses) == 1 and whl.read(licenses[0]).decode().startswith("MIT License\n")
        entry_points = whl.read(f"{info}/entry_points.txt").decode()
    _check_metadata(meta)
    assert meta["License-File"] == "LICENSE"
    assert "papyra = papyra.cli:main" in entry_points
    assert _files_under(ROOT, "papyra") | {"papyra/py.typed"} <= names
    assert not [n for n in names if n.startswith(("tests/", "examples/", "benchmarks/"))]


def test_the_test_suite_collects_from_the_unpacked_sdist(
    dists: tuple[Path, Path], tmp_path: Path
) -> None:
    """A packager's first step: every test module, conftest and support import resolves from the
    sdist alone (collection only: running the suite twice would double its cost)."""
    sdist, _ = dists
    with tarfile.open(sdist) as tar:
        if hasattr(tarfile, "data_filter"):  # 3.12+, and later 3.10/3.11 patch releases
            tar.extractall(tmp_path, filter="data")
        else:
            tar.extractall(tmp_path)
    [src] = tmp_path.iterdir()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=src,
        env={**os.environ, "PYTHONPATH": str(src)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    modules = {line.split("::", 1)[0] for line in proc.stdout.splitlines() if "::" in line}
    here = {p.relative_to(ROOT).as_posix() for p in (ROOT / "tests").rglob("test_*.py")}
    assert here - modules == set(), "test modules that do not collect from the sdist"

"""Papyra's public backend conformance kit (the persistence "TCK").

A third-party backend passes the same contract suite as Papyra's own four backends: subclass
:class:`BackendContract` in a test module, give it one fixture that builds your backend, and run
pytest::

    import pytest
    from papyra.testing import BackendContract

    class TestMyBackend(BackendContract):
        per_kind_retention = False  # one retention window over the whole store

        @pytest.fixture
        def make_backend(self, tmp_path):
            made = []

            def make(**kwargs):          # kwargs: retention_policy=...
                backend = MyBackend(tmp_path / "store", **kwargs)
                made.append(backend)
                return backend

            yield make
            for backend in made:
                backend.close()

Importing this package imports pytest (``pip install papyra[testing]``); ``import papyra`` never
does. See README "Writing a backend" for the contract itself.
"""

from papyra.testing.contract import BackendContract, MakeBackend
from papyra.testing.records import sample_audit, sample_dead_letter, sample_event

__all__ = ["BackendContract", "MakeBackend", "sample_audit", "sample_dead_letter", "sample_event"]

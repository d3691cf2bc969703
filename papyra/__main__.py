"""``python -m papyra …`` runs the operator CLI."""

from __future__ import annotations

from papyra.cli import main

if __name__ == "__main__":
    raise SystemExit(main())

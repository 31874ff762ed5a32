"""Where the data shipped with dst3d lives: ``cad_aligned/`` and ``prompts/``.

They sit at the top of the repository (the layout the project documents), and the wheel
carries copies under ``dst3d/_shipped/`` (see setup.py), so a plain ``pip install`` works
as well as the editable install the README uses.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def shipped(name: str) -> Path:
    """The shipped folder ``name``: the checkout's top-level one, else the installed copy."""
    checkout = PACKAGE.parent / name
    return checkout if checkout.is_dir() else PACKAGE / "_shipped" / name

"""The parametric generator package: its imports run one way (build -> families -> primitives)."""

from __future__ import annotations

import ast
from pathlib import Path

import dst3d.cad.parametric as parametric

PACKAGE = Path(parametric.__file__).parent
FAMILIES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in {"__init__", "build", "primitives"})


def sibling_imports(path: Path) -> set[str]:
    """Modules of this package that ``path`` imports, at module level or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            found.add(node.module or "__init__")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dst3d.cad.parametric"):
            found.add(node.module.removeprefix("dst3d.cad.parametric").lstrip(".") or "__init__")
        elif isinstance(node, ast.Import):
            found |= {a.name.removeprefix("dst3d.cad.parametric.") for a in node.names if a.name.startswith("dst3d.cad.parametric")}
    return found


def test_imports_run_one_way():
    assert len(FAMILIES) >= 5, FAMILIES
    assert sibling_imports(PACKAGE / "primitives.py") == set()
    for family in FAMILIES:
        assert sibling_imports(PACKAGE / f"{family}.py") <= {"primitives"}, family
    assert sibling_imports(PACKAGE / "build.py") <= set(FAMILIES) | {"primitives"}


def test_public_names():
    for name in ("SOURCE", "LICENSE", "CLASSES", "ClassSpec", "Model", "build_library", "build_model"):
        assert hasattr(parametric, name), name

"""The package's imports run one way: no cycles between files, and each stage imports only
the stages below it (imports inside functions count). Checked on the source, so a new
shortcut import fails here before it turns into a circular-import bug."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "dst3d"

# Lowest first. A module may import its own stage and lower ones (siblings in a layer do
# not import each other); the core modules (layer 0) are one stage, and the CLI layer (cli,
# api and every stage's commands.py) may import anything.
LAYERS = [
    {"dst3d", "errors", "files", "config", "seeds", "imagenet", "shipped", "progress", "hub_models", "tiny_models"},
    {"pose"},
    {"cad"},
    {"render"},
    {"control"},
    {"appearance", "prompts"},
    {"store"},
    {"viz"},
    {"pipeline"},
    {"posenet", "exporters", "hub", "ingest", "score"},
    {"kcf"},
]
TOP = {"cli", "api", "__main__"}


def modules() -> dict[str, Path]:
    out = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Modules of dst3d that ``name`` imports anywhere in its file."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            targets = [f"{module}.{a.name}" if f"{module}.{a.name}" in known else module for a in node.names]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rsplit(".", 1)[0] if "." in target else ""
            if target.startswith("dst3d") and target != name:
                found.add(target)
    return found


def graph() -> dict[str, set[str]]:
    mods = modules()
    return {name: imports(name, path, set(mods)) for name, path in mods.items()}


def stage(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "dst3d"


def layer(module: str) -> int:
    if module.endswith(".commands") or stage(module) in TOP:
        return len(LAYERS)
    return next(i for i, group in enumerate(LAYERS) if stage(module) in group)


def test_the_import_checker_sees_imports_inside_functions(tmp_path):
    # the checker itself: a lazy import is still an edge
    src = tmp_path / "dst3d" / "kcf" / "x.py"
    src.parent.mkdir(parents=True)
    src.write_text("def f():\n    from ..pipeline.run import run_job\n    from . import y\n")
    assert imports("dst3d.kcf.x", src, {"dst3d.pipeline.run", "dst3d.kcf.y", "dst3d.kcf.x"}) == {"dst3d.pipeline.run", "dst3d.kcf.y"}


def test_no_import_cycles_between_files():
    edges = graph()
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in edges:
        if v not in index:
            visit(v)
    assert cycles == []


def test_every_stage_is_in_a_layer():
    assert {stage(m) for m in modules()} <= set().union(*LAYERS) | TOP


def test_stages_import_only_stages_below_them():
    def allowed(a: str, b: str) -> bool:
        if layer(b) != layer(a):
            return layer(b) < layer(a)
        return stage(a) == stage(b) or layer(a) in (0, len(LAYERS))  # core and the CLI layer are one stage each

    wrong = sorted(f"{a} -> {b}" for a, targets in graph().items() for b in targets if not allowed(a, b))
    assert wrong == []


def test_consumers_never_import_the_pipeline():
    wrong = sorted(f"{a} -> {b}" for a, targets in graph().items() for b in targets
                   if stage(a) in {"kcf", "exporters", "posenet", "hub"} and not a.endswith(".commands") and stage(b) == "pipeline")
    assert wrong == []

"""The layers of sameo_core (README, "Architecture"): imports only go down, never up or sideways,
and no two modules import each other (directly or round a longer cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "sameo_core"

# Lowest first. A module may import from its own part and from parts of lower layers only.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("files", "geometry", "camera"),
    ("model", "data", "visualize"),
    ("inference",),
    ("tracking",),
    ("training", "evaluation"),
    ("tools",),
)
LAYER_OF = {part: level for level, parts in enumerate(LAYERS) for part in parts}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """sameo_core modules imported anywhere in `path` (function-local imports included)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sameo_core"))
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("sameo_core"):
                found.add(target)
                found.update(f"{target}.{a.name}" for a in node.names)
    return found


def _graph() -> dict[str, set[str]]:
    files = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: {t for t in _imports(path) if t in files and t != name}
            for name, path in files.items()}  # fmt: skip


def _part(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def test_every_part_has_a_layer():
    parts = {_part(m) for m in _graph()} - {""}
    assert parts <= set(LAYER_OF), f"parts without a layer: {sorted(parts - set(LAYER_OF))}"


def test_imports_only_go_down():
    wrong = []
    for module, targets in _graph().items():
        source = _part(module)
        for target in targets:
            dest = _part(target)
            if not dest or not source or dest == source:
                continue
            if LAYER_OF[dest] >= LAYER_OF[source]:
                wrong.append(f"{module} -> {target}")
    assert not wrong, "upward or sideways imports:\n" + "\n".join(sorted(wrong))


def test_no_import_cycles():
    graph = _graph()
    # Package __init__ files re-export their modules; an edge into a package's own __init__
    # from inside the package is not a cycle of code.
    state: dict[str, int] = {}
    cycles = []

    def visit(node: str, stack: list[str]) -> None:
        state[node] = 1
        for nxt in sorted(graph[node]):
            if nxt == node.rsplit(".", 1)[0] or node.startswith(nxt + "."):
                continue
            if state.get(nxt) == 1:
                cycles.append(" -> ".join(stack[stack.index(nxt):] + [nxt]))
            elif nxt not in state:
                visit(nxt, stack + [nxt])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def test_module_names_are_unique():
    """No two modules of the project share a file name (a name says what a module is)."""
    seen: dict[str, list[str]] = {}
    for folder in ("sameo_core", "sameo_ros", "training", "launch"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name != "__init__.py" and ".ros_ws" not in path.parts:
                seen.setdefault(path.name, []).append(str(path.relative_to(ROOT)))
    repeated = {name: paths for name, paths in seen.items() if len(paths) > 1}
    assert not repeated, f"module names used twice: {repeated}"

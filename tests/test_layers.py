"""The import graph follows the layers of DESIGN.md: every import of every module under `src/diamond_wm` (read
with `ast`, imports inside functions and `TYPE_CHECKING` blocks included) goes down or sideways, never up; an
application imports no other application; no two packages import each other, directly or around a loop; no two
modules do either at run time (a `TYPE_CHECKING` import runs nothing, so it may close a loop of modules inside one
package; it still counts for the layers and for loops of packages).

A failure names the importing module and line, the imported module and the rule it breaks.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
ROOT = "diamond_wm"

# The layers, bottom first: a package (or a top-level module of diamond_wm) imports only its own layer and the
# layers below. `diamond_wm` itself (its __init__: the version) counts as the bottom layer.
LAYERS: list[tuple[str, ...]] = [
    ("diamond_wm", "runtime"),  # devices, seeding, logs, atomic files
    ("config",),  # typed configs and presets (it validates devices and writes files with the runtime)
    ("data", "models"),  # episodes, datasets, the Batch type; networks, diffusion, the Agent
    ("envs",),  # real environments and the world-model environment behind one batched interface
    # the training loop, and what the applications share: checkpoint, run-folder and published-model loading
    # (`loading`, `hub`; they read run folders, so they sit beside training, not under it) and the conversion of
    # recorded play into datasets (`conversion`: the dataset tools run it, bench measures it); interactive play
    # without a front end (`interactive`: commands, sessions, recording; the pygame window and the server use it)
    ("training", "loading", "hub", "conversion", "interactive"),
    # the applications
    ("play", "serve", "evaluation", "bench", "results", "datasets", "experiments", "demo"),
    ("cli",),  # dispatches to the applications
]
APPLICATIONS = set(LAYERS[-2])

# Imports between packages of one layer are allowed, as long as no loop forms, except where narrowed here:
# the models see of data only the Batch type they are trained on (`data/batch.py` imports nothing of ours).
ONLY: dict[tuple[str, str], set[str]] = {("models", "data"): {"diamond_wm.data.batch"}}

# Known exceptions still to remove: (importing module, imported module) -> why it is still there. None left.
ALLOWED: dict[tuple[str, str], str] = {}

RANK = {name: rank for rank, names in enumerate(LAYERS) for name in names}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted((SRC / ROOT).rglob("*.py"))}


def _type_only(tree: ast.Module) -> set[ast.AST]:
    """The nodes under an `if TYPE_CHECKING:` (or `typing.TYPE_CHECKING`)."""
    inside: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            for child in node.body:
                inside.update(ast.walk(child))
    return inside


def _imports(module: str, path: Path) -> list[tuple[int, str, bool]]:
    """(line, imported module of ours, whether only for type checking) for each import in `path`; `from a import
    b` names `a.b` when that is a module, else `a`."""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    found: list[tuple[int, str, bool]] = []
    tree = ast.parse(path.read_text(), str(path))
    type_only = _type_only(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package[: len(package) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            submodules = [f"{source}.{a.name}" for a in node.names if f"{source}.{a.name}" in MODULES]
            names = submodules if len(submodules) == len(node.names) else [source, *submodules]
        else:
            continue
        ours = [n for n in names if n == ROOT or n.startswith(ROOT + ".")]
        found += [(node.lineno, n, node in type_only) for n in ours]
    return found


def _unit(module: str) -> str:
    """The layer unit of a module: its package under diamond_wm, or the top-level module itself."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ROOT


IMPORTS = {module: _imports(module, path) for module, path in MODULES.items()}


def _where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(SRC)}:{line}"


def test_every_module_is_in_a_layer():
    units = {_unit(m) for m in MODULES}
    assert units - set(RANK) == set(), "add these packages to a layer in LAYERS"


def test_imports_go_down_the_layers():
    broken = []
    for module, imports in IMPORTS.items():
        source = _unit(module)
        for line, target, _ in imports:
            dest = _unit(target)
            if dest == source or (module, target) in ALLOWED:
                continue
            if RANK[dest] > RANK[source]:
                rule = f"upward: {source} (layer {RANK[source]}) imports {dest} (layer {RANK[dest]})"
            elif source in APPLICATIONS and dest in APPLICATIONS:
                rule = f"application {source} imports application {dest}"
            elif (source, dest) in ONLY and target not in ONLY[source, dest]:
                rule = f"{source} may import of {dest} only {sorted(ONLY[source, dest])}"
            else:
                continue
            broken.append(f"{_where(module, line)} {module} imports {target}: {rule}")
    assert broken == [], "\n".join(broken)


def test_batch_module_imports_nothing_of_ours():
    assert IMPORTS["diamond_wm.data.batch"] == []


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one node (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def _edges(unit_of, run_time_only: bool) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    example: dict[tuple[str, str], str] = {}
    for module, imports in IMPORTS.items():
        for line, target, type_only in imports:
            a, b = unit_of(module), unit_of(target)
            if a != b and (module, target) not in ALLOWED and not (run_time_only and type_only):
                graph[a].add(b)
                example.setdefault((a, b), f"{_where(module, line)} {module} imports {target}")
    return graph, example


def _describe(cycles: list[list[str]], graph, example) -> str:
    lines = []
    for cycle in cycles:
        lines.append("cycle: " + ", ".join(cycle))
        members = set(cycle)
        lines += [f"    {example[a, b]}" for a in cycle for b in sorted(graph[a] & members)]
    return "\n".join(lines)


def test_no_package_cycles():
    graph, example = _edges(_unit, run_time_only=False)
    cycles = _cycles(graph)
    assert cycles == [], _describe(cycles, graph, example)


def test_no_module_cycles():
    graph, example = _edges(lambda module: module, run_time_only=True)
    cycles = _cycles(graph)
    assert cycles == [], _describe(cycles, graph, example)


def test_models_load_of_data_only_the_batch():
    """`data/__init__` imports its names on first use: the models, importing `data.batch`, load no dataset code."""
    code = (
        "import sys, diamond_wm.models.agent, diamond_wm.models.diffusion.loss\n"
        "print(sorted(m for m in sys.modules if m.startswith('diamond_wm.data')))\n"
        "import diamond_wm.data as data\n"
        "assert all(getattr(data, name) is not None for name in data.__all__)\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")])}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "['diamond_wm.data', 'diamond_wm.data.batch']"

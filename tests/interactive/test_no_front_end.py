"""The interactive layer knows no front end: no module of it imports pygame (not even inside a function) or the
play application (tests/test_layers.py keeps the other applications out)."""

from __future__ import annotations

import ast
from pathlib import Path

INTERACTIVE = Path(__file__).resolve().parents[2] / "src" / "diamond_wm" / "interactive"


def _imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


def test_no_module_imports_pygame_or_the_play_application():
    modules = sorted(INTERACTIVE.glob("*.py"))
    assert len(modules) > 10
    found = {
        f"{path.name}: {name}"
        for path in modules
        for name in _imported(path)
        if name.split(".")[0] == "pygame" or name == "diamond_wm.play" or name.startswith("diamond_wm.play.")
    }
    assert found == set()

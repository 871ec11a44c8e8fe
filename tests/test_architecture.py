"""The shape of the code: module-level imports never go round in a circle.

A cycle makes the import order matter (a module half-initialised when another reads
it) and is the first sign of a rule with two homes. Imports under ``TYPE_CHECKING`` and
inside functions are not module-level and do not count.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("oauth_server", "partners_demo")


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue  # Alembic loads these by path, one by one
            parts = path.relative_to(ROOT).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            found[name] = path
    return found


def _module_level_imports(path: Path, modules: dict[str, Path]) -> set[str]:
    imported: set[str] = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                full = f"{node.module}.{alias.name}"
                if full in modules:
                    imported.add(full)  # a submodule, not a name of the package
                elif node.module in modules:
                    imported.add(node.module)
        elif isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names if alias.name in modules)
    return imported


def test_no_import_cycle() -> None:
    modules = _modules()
    graph = {name: _module_level_imports(path, modules) for name, path in modules.items()}
    try:
        graphlib.TopologicalSorter(graph).prepare()
    except graphlib.CycleError as error:
        pytest.fail("import cycle: " + " -> ".join(error.args[1]))


def test_the_check_sees_a_cycle(tmp_path: Path) -> None:
    # The same reading, on two modules that import each other.
    (tmp_path / "a.py").write_text("from b import x\n")
    (tmp_path / "b.py").write_text("import a\n")
    modules = {"a": tmp_path / "a.py", "b": tmp_path / "b.py"}
    graph = {name: _module_level_imports(path, modules) for name, path in modules.items()}
    with pytest.raises(graphlib.CycleError):
        graphlib.TopologicalSorter(graph).prepare()

"""The modules of `spc` import each other one way only (issue 15, item 5)."""

import ast
from pathlib import Path

import spc

PACKAGE = Path(spc.__file__).parent


def _imports(path: Path) -> set[str]:
    """`spc.*` modules that ``path`` imports anywhere (module level or inside a function)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("spc."):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("spc."))
    return found


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a path of module names, or None (depth-first search)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        stack.append(module)
        for target in sorted(graph.get(module, ())):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state and (found := visit(target)):
                return found
        stack.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state and (found := visit(module)):
            return found
    return None


def test_spc_modules_have_no_import_cycle() -> None:
    graph = {
        f"spc.{path.stem}": _imports(path)
        for path in PACKAGE.glob("*.py")
        if path.stem != "__init__"
    }
    assert "spc.rules" in graph["spc.variables"]  # the walk sees real imports
    assert _cycle(graph) is None, " -> ".join(_cycle(graph) or [])


def test_cycle_finder_reports_a_two_module_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"a"}}) == ["a", "b", "a"]

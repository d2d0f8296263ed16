"""The style rules of the developers' guide that a machine can check: one concept per module (at
most 400 lines), short functions (at most 60 lines, docstring included), and imports that run only down
the architecture picture (docs/architecture.md)."""

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "simplestories_interp"
MAX_MODULE_LINES, MAX_FUNCTION_LINES = 400, 60


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_modules_are_at_most_400_lines():
    long = {str(p.relative_to(PACKAGE)): n for p in _modules()
            if (n := len(p.read_text().splitlines())) > MAX_MODULE_LINES}
    assert not long, f"split these modules (one concept each): {long}"


def test_functions_are_at_most_60_lines():
    long = {}
    for path in _modules():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = n
    assert not long, f"pull steps out of these functions: {long}"


# The floors of docs/architecture.md's picture, lowest first; root modules below every package.
FLOORS = {"data": 1, "zoo": 2, "training": 3, "analysis": 4, "render": 5, "sae": 5, "studies": 6, "explore": 6}
TOP = {"cli", "__init__", "__main__"}


def _imports(path: Path) -> set[str]:
    """The first-level names of ``simplestories_interp`` a module imports (anywhere in it)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("simplestories_interp."):
            found.add(node.module.split(".")[1])
    return found


def test_imports_run_only_down_the_architecture_picture():
    """A package imports root modules, packages on lower floors and itself; a root module only root modules."""
    upward = []
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE).parts
        own = parts[0] if len(parts) > 1 else None
        if own is None and path.stem in TOP:
            continue
        floor = FLOORS.get(own, 0)
        for target in _imports(path):
            if target != own and FLOORS.get(target, 0) >= floor and target in FLOORS | {"cli": 0}:
                upward.append(f"{path.relative_to(PACKAGE)} imports {target}")
    assert upward == []

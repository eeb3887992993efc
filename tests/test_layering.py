"""The package's architecture, checked: imports only point down the layers, none hide in functions.

    backend <- autograd <- ops / serialization / profiler <- functional <- nn <- optim / data
            <- metrics <- spec / interop <- train <- experiments <- cli
"""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "minidl"
RANK = {"backend": 0, "speed": 0, "cuda": 0, "accelerator": 0, "autograd": 1,
        "ops": 2, "serialization": 2, "profiler": 2, "functional": 3,
        "nn": 4, "optim": 5, "data": 5, "utils": 5, "metrics": 6, "viz": 6, "spec": 7, "interop": 7, "train": 8,
        "experiments": 9, "cli": 10, "__main__": 10}
MODULES = sorted(p for p in PACKAGE.rglob("*.py") if p != PACKAGE / "__init__.py")


def layer(path: Path) -> str:
    return path.relative_to(PACKAGE).parts[0].removesuffix(".py")


def minidl_imports(tree: ast.AST) -> list[tuple[ast.stmt, str]]:
    """(statement, imported minidl layer) for every ``import minidl.x`` / ``from minidl.x import``."""
    found = []
    for node in ast.walk(tree):
        names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [f"{node.module}.{a.name}" if node.module == "minidl" else node.module for a in node.names]
        found += [(node, n.split(".")[1]) for n in names if n.startswith("minidl.") and len(n.split(".")) > 1]
    return found


def test_every_module_is_in_a_layer():
    assert {layer(p) for p in MODULES} <= set(RANK)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down_and_sit_at_module_level(path):
    tree = ast.parse(path.read_text())
    top_level = {id(node) for node in tree.body}
    for node, target in minidl_imports(tree):
        assert RANK.get(target, 99) <= RANK[layer(path)], \
            f"{path.name}:{node.lineno} imports minidl.{target} from the lower layer {layer(path)} " \
            "(names not in a layer come from the top-level package, which imports everything)"
        assert id(node) in top_level or _inside_type_checking(tree, node), \
            f"{path.name}:{node.lineno}: import of minidl.{target} inside a function (a late import)"


def _inside_type_checking(tree: ast.Module, target: ast.stmt) -> bool:
    return any(isinstance(n, ast.If) and "TYPE_CHECKING" in ast.dump(n.test) and target in ast.walk(n)
               for n in tree.body)

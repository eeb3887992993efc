"""Static checks that keep minidl runnable on CuPy without a GPU to prove it.

* every ``xp.<name>`` / ``cupy.<name>`` / ``cupyx.<name>`` that minidl's source uses exists in the
  real CuPy 14.2.0 wheel (tests/fake_cupy/cupy_names.json, generated with ``dir()`` from it);
* the compute layers (ops, functional, nn, optim) never import ``numpy`` (or ``cupy``): they ask
  ``minidl.backend`` for the array module, so nothing there runs on the host by accident.
"""

import ast
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "minidl"
NAME_LIST = ROOT / "tests" / "fake_cupy" / "cupy_names.json"
NAMES = {k: set(v) for k, v in json.loads(NAME_LIST.read_text())["names"].items()}
#: attributes of the array module that minidl uses under another variable name than ``xp``
MODULE_ALIASES = {"xp": "cupy", "cupy": "cupy", "cupyx": "cupyx"}
COMPUTE_LAYERS = ["ops", "functional", "nn", "optim"]
SOURCES = sorted(PACKAGE.rglob("*.py"))


def _attribute_chain(node: ast.Attribute) -> list[str] | None:
    """``xp.random.default_rng`` -> ["xp", "random", "default_rng"] (None if not rooted at a name)."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call) and _called(node) in ("xp_of", "module_for"):  # backend.xp_of(x).name
        return ["xp", *reversed(parts)]
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _called(call: ast.Call) -> str | None:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None


def uses(path: Path) -> list[tuple[int, str]]:
    """(line, "cupy.name" / "cupy.random.name" / "cupyx.scipy.special.name") for every use in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and not isinstance(getattr(node, "ctx", None), ast.Store):
            chain = _attribute_chain(node)
            if chain and chain[0] in MODULE_ALIASES and len(chain) >= 2:
                found.append((node.lineno, ".".join([MODULE_ALIASES[chain[0]], *chain[1:]])))
    return found


def exists(dotted: str) -> bool:
    """Whether ``dotted`` (e.g. "cupy.random.default_rng") names something in the real wheel."""
    parts = dotted.split(".")
    for split in range(len(parts) - 1, 0, -1):  # the longest module prefix we have a name list for
        module = ".".join(parts[:split])
        if module in NAMES:
            return parts[split] in NAMES[module]
    return False


def test_the_checker_sees_names():
    assert exists("cupy.exp") and exists("cupy.random.default_rng") and exists("cupyx.scatter_add")
    assert exists("cupyx.scipy.special.erf") and exists("cupy.cuda.runtime.getDeviceCount")
    assert not exists("cupy.errstate") and not exists("cupy.random.Generator.get_state")
    assert any(name == "cupy.where" for _, name in uses(PACKAGE / "ops" / "elementwise.py"))
    assert any(name == "cupy.concatenate" for _, name in uses(PACKAGE / "ops" / "shape.py"))


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_every_array_module_name_exists_in_cupy(path):
    missing = [f"{path.relative_to(ROOT)}:{line}: {name}" for line, name in uses(path) if not exists(name)]
    assert not missing, "names CuPy 14.2.0 does not have:\n" + "\n".join(missing)


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


@pytest.mark.parametrize("layer", COMPUTE_LAYERS)
def test_compute_layers_use_no_bare_numpy(layer):
    bad = []
    for path in sorted((PACKAGE / layer).rglob("*.py")):
        tree = ast.parse(path.read_text())
        bad += [f"{path.relative_to(ROOT)}:{line}: import {name}" for line, name in _imports(tree)
                if name.split(".")[0] in ("numpy", "cupy", "cupyx", "scipy")]
        bad += [f"{path.relative_to(ROOT)}:{node.lineno}: np.{node.attr}" for node in ast.walk(tree)
                if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "np"]
    assert not bad, "use minidl.backend (xp = backend.xp_of(...)) instead:\n" + "\n".join(bad)

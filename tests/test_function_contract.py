"""The contract every ``Function`` of minidl keeps (see ``minidl/autograd/function.py``).

For every concrete Function subclass in the package:

* its parameters are declared: every ``self.<name>`` that its methods read but never assign
  (forward saves what backward needs by assigning it) is a declared parameter, a method, a
  property, a class attribute or one of what ``Function.apply`` records (``needs_input_grad``);
* its docstring states the derivative (``dy/dx = ...``, ``dL/dx = ...``, ``dx = ...``, or
  where the gradient goes);
* ``minidl gradcheck`` has a row for it (:data:`minidl.cli.gradcheck_cases.CASES`).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import re
import textwrap

import pytest

import minidl
from minidl.autograd import function as function_module
from minidl.autograd.function import Function
from minidl.cli.gradcheck_cases import CASES, concrete_ops
from minidl.ops.elementwise import Mul, MulScalar

OPS = concrete_ops()
DERIVATIVE = re.compile(r"\bd[a-zA-Z]\w*/d\w+|\bd[a-zA-Z]\w*(\[[^\]]*\])?\s*=|gradient", re.IGNORECASE)


def _self_attributes(cls: type[Function]) -> tuple[set[str], set[str]]:
    """(read, assigned): the ``self.<name>`` attributes the class and its minidl bases read and assign."""
    read, assigned = set(), set()
    for klass in cls.__mro__[:cls.__mro__.index(Function)]:
        for node in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(klass)))):
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
                (assigned if isinstance(node.ctx, ast.Store) else read).add(node.attr)
    return read, assigned


def test_every_function_of_the_package_lives_in_ops() -> None:
    for info in pkgutil.walk_packages(minidl.__path__, "minidl."):
        if info.name.startswith(("minidl.ops.", "minidl.autograd.")):
            importlib.import_module(info.name)
    found, todo = set(), list(Function.__subclasses__())
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls.__module__.startswith("minidl."):
            found.add(cls)
    assert {cls for cls in found if cls.forward is not Function.forward} == set(OPS)


@pytest.mark.parametrize("cls", OPS, ids=lambda cls: cls.__name__)
def test_parameters_are_declared(cls: type[Function]) -> None:
    read, assigned = _self_attributes(cls)
    undeclared = {name for name in read - assigned
                  if name not in cls.parameters() and not hasattr(cls, name) and name not in Function.__annotations__}
    assert not undeclared, f"{cls.__name__} reads undeclared attributes {sorted(undeclared)}"


@pytest.mark.parametrize("cls", OPS, ids=lambda cls: cls.__name__)
def test_docstring_states_the_derivative(cls: type[Function]) -> None:
    assert DERIVATIVE.search(cls.__doc__ or ""), f"{cls.__name__}: no derivative in its docstring"


def test_every_function_has_a_gradcheck_row() -> None:
    assert {case.op for case in CASES} == set(OPS)


def test_apply_refuses_undeclared_and_missing_parameters() -> None:
    x = minidl.ones(3)
    with pytest.raises(TypeError, match=r"MulScalar: unexpected parameters \['scale'\], missing \['c'\]"):
        MulScalar.apply(x, scale=2.0)
    assert MulScalar.parameters() == ("c",)


@pytest.mark.parametrize("cls", [Mul, MulScalar], ids=lambda cls: cls.__name__)
def test_the_example_in_function_py_is_the_real_code(cls: type[Function]) -> None:
    """The bodies of ``Mul`` and ``MulScalar`` in ``function.py``'s docstring are the real ones."""
    documented = {line.split("#")[0].strip() for line in function_module.__doc__.splitlines()}
    code = [line.strip() for line in inspect.getsource(cls).splitlines()[2:]
            if line.strip() and not line.strip().startswith("def ")]  # the example leaves out type hints
    assert all(line in documented for line in code), cls.__name__

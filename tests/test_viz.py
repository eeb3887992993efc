"""minidl.viz: the DOT text of a small graph, exactly; a rendered SVG; the ``minidl viz`` command."""

import re
import shutil
import xml.etree.ElementTree as ET

import pytest

import minidl
from minidl import nn, viz
from minidl.cli.main import main


def graph(dot: str) -> tuple[dict[str, str], set[tuple[str, str]]]:
    """(node id -> label, edges) parsed back from DOT text."""
    nodes = dict(re.findall(r'^  (\w+) \[.*label="([^"]*)"\];$', dot, re.M))
    edges = set(re.findall(r"^  (\w+) -> (\w+);$", dot, re.M))
    return nodes, edges


def by_label(nodes: dict[str, str]) -> dict[str, str]:
    return {label: node for node, label in nodes.items()}


def test_dot_of_a_small_expression_has_exactly_its_nodes_and_edges():
    x = minidl.randn(3, 4, requires_grad=True)
    w = minidl.randn(4, 2, requires_grad=True)
    c = minidl.randn(3, 2)  # a constant: a plain tensor node
    y = ((x @ w) * c).sum()
    nodes, edges = graph(viz.to_dot(y, {"w": w}))
    assert sorted(nodes.values()) == sorted([
        "() float32", "SumBackward", "(3, 2) float32", "MulBackward", "(3, 2) float32", "MatMulBackward",
        "(3, 4) float32", "w\\n(4, 2) float32", "(3, 2) float32"])
    ids = {label: node for node, label in nodes.items() if label.count("(3, 2)") == 0}
    mul_out = next(n for a, n in edges if a == ids["MulBackward"])
    mm_out = next(n for a, n in edges if a == ids["MatMulBackward"])
    constant = next(n for n, label in nodes.items() if label == "(3, 2) float32" and n not in (mul_out, mm_out))
    assert edges == {
        (ids["SumBackward"], ids["() float32"]), (mul_out, ids["SumBackward"]), (ids["MulBackward"], mul_out),
        (mm_out, ids["MulBackward"]), (constant, ids["MulBackward"]), (ids["MatMulBackward"], mm_out),
        (ids["(3, 4) float32"], ids["MatMulBackward"]), (ids["w\\n(4, 2) float32"], ids["MatMulBackward"])}


def test_parameters_carry_their_module_path_and_gradient_norms_after_backward():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 1))
    loss = model(minidl.randn(5, 4)).sum()
    assert "|grad|" not in viz.to_dot(loss, model)
    loss.backward(retain_graph=True)
    labels = set(graph(viz.to_dot(loss, model))[0].values())
    norm = float((model[0].weight.grad.numpy() ** 2).sum() ** 0.5)
    assert f"0.weight\\n(3, 4) float32\\n|grad| = {norm:.3g}" in labels
    assert {"0.bias", "2.weight", "2.bias"} <= {label.split("\\n")[0] for label in labels}


def test_a_node_used_twice_is_drawn_once():
    x = minidl.randn(2, requires_grad=True)
    h = x.exp()
    nodes, edges = graph(viz.to_dot((h * h).sum()))
    assert list(nodes.values()).count("ExpBackward") == 1
    h_node = next(b for a, b in edges if a == by_label(nodes)["ExpBackward"])
    assert (h_node, by_label(nodes)["MulBackward"]) in edges


def test_draw_writes_dot_text_and_renders_svg(tmp_path):
    x = minidl.randn(3, requires_grad=True)
    y = (x * 2).sum()
    assert viz.draw(y, tmp_path / "g.dot").read_text() == viz.to_dot(y)
    if shutil.which("dot") is None:  # .ci/run installs Graphviz, so CI takes the other branch
        with pytest.raises(RuntimeError, match="apt-get install graphviz"):
            viz.draw(y, tmp_path / "g.svg")
        return
    root = ET.parse(viz.draw(y, tmp_path / "g.svg")).getroot()
    texts = {t.text for t in root.iter("{http://www.w3.org/2000/svg}text")}
    assert {"SumBackward", "MulBackward", "(3,) float32"} <= texts
    assert not list(tmp_path.glob("*.tmp"))


def test_minidl_viz_draws_a_description(tmp_path, capsys):
    out = tmp_path / "residual.dot"
    assert main(["viz", "experiments/models/residual.toml", "--out", str(out)]) == 0
    labels = set(graph(out.read_text())[0].values())
    assert "BinaryCrossEntropyWithLogitsBackward" in labels
    assert any(label.startswith("1.block.branch.0.weight") for label in labels)
    assert main(["viz", "experiments/models/residual.toml", "--out", str(tmp_path / "graph")]) == 2
    assert "has no suffix" in capsys.readouterr().err

"""PyTorch's custom autograd functions on minidl: the same class bodies subclass ``torch.autograd.Function``
and ``minidl.autograd.Function``, and give the same values and gradients (float32 and float64, random
upstream gradients); minidl's gradcheck accepts them; minidl's own array form still works."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from helpers import DTYPES, check_grad, check_parity, rng

import minidl


def define(lib) -> SimpleNamespace:
    """The same custom functions, written once, for ``lib`` = torch or minidl."""

    class MyExp(lib.autograd.Function):
        """The docs' example: save the output."""

        @staticmethod
        def forward(ctx, x):
            y = x.exp()
            ctx.save_for_backward(y)
            return y

        @staticmethod
        def backward(ctx, grad_output):
            y, = ctx.saved_tensors
            return grad_output * y

    class LegendrePolynomial3(lib.autograd.Function):
        """The tutorial's example: save the input."""

        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return 0.5 * (5 * input ** 3 - 3 * input)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * 1.5 * (5 * input ** 2 - 1)

    class MyReLU(lib.autograd.Function):
        @staticmethod
        def forward(ctx, input):
            ctx.save_for_backward(input)
            return input.clamp(min=0)

        @staticmethod
        def backward(ctx, grad_output):
            input, = ctx.saved_tensors
            return grad_output * (input > 0).to(grad_output.dtype)

    class LinearFunction(lib.autograd.Function):
        """Several inputs, an optional one (bias), needs_input_grad: the docs' example."""

        @staticmethod
        def forward(ctx, input, weight, bias=None):
            ctx.save_for_backward(input, weight, bias)
            output = input.mm(weight.t())
            if bias is not None:
                output = output + bias.unsqueeze(0).expand_as(output)
            return output

        @staticmethod
        def backward(ctx, grad_output):
            input, weight, bias = ctx.saved_tensors
            grad_input = grad_weight = grad_bias = None
            if ctx.needs_input_grad[0]:
                grad_input = grad_output.mm(weight)
            if ctx.needs_input_grad[1]:
                grad_weight = grad_output.t().mm(input)
            if bias is not None and ctx.needs_input_grad[2]:
                grad_bias = grad_output.sum(0)
            return grad_input, grad_weight, grad_bias

    class MulConstant(lib.autograd.Function):
        """A non-tensor argument (its gradient is None) and an attribute on ctx."""

        @staticmethod
        def forward(ctx, tensor, constant):
            ctx.constant = constant
            return tensor * constant

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.constant, None

    class SinCos(lib.autograd.Function):
        """Two differentiable outputs."""

        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.sin(), x.cos()

        @staticmethod
        def backward(ctx, grad_sin, grad_cos):
            x, = ctx.saved_tensors
            return grad_sin * x.cos() - grad_cos * x.sin()

    class MaxAndIndex(lib.autograd.Function):
        """An integer output marked non-differentiable."""

        @staticmethod
        def forward(ctx, x):
            index = x.argmax(1)
            values = x.amax(1)
            ctx.mark_non_differentiable(index)
            ctx.save_for_backward(x, index)
            return values, index

        @staticmethod
        def backward(ctx, grad_values, grad_index):
            x, index = ctx.saved_tensors
            grad = x * 0
            grad[lib.arange(x.shape[0]), index] = grad_values
            return grad

    class Scale(lib.autograd.Function):
        """PyTorch 2's form: forward without ctx, and setup_context."""

        @staticmethod
        def forward(x, factor):
            return x * factor

        @staticmethod
        def setup_context(ctx, inputs, output):
            _, ctx.factor = inputs

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output * ctx.factor, None

    return SimpleNamespace(**{k: v for k, v in locals().items() if isinstance(v, type)})


MD, TH = define(minidl), define(torch)

# name -> (call with the namespace of functions, input maker)
CASES = {
    "MyExp": (lambda f: f.MyExp.apply, lambda: [rng(1).standard_normal((3, 4))]),
    "LegendrePolynomial3": (lambda f: f.LegendrePolynomial3.apply, lambda: [rng(2).standard_normal(7)]),
    "LegendrePolynomial3_in_a_graph": (lambda f: lambda a, x: (a + 2 * f.LegendrePolynomial3.apply(a * x)).sum(),
                                       lambda: [rng(3).standard_normal(()), rng(4).standard_normal(5)]),
    "MyReLU": (lambda f: f.MyReLU.apply,
               lambda: [rng(5).uniform(0.1, 1, (3, 4)) * rng(6).choice([-1.0, 1.0], (3, 4))]),
    "LinearFunction": (lambda f: f.LinearFunction.apply,
                       lambda: [rng(7).standard_normal((5, 3)), rng(8).standard_normal((2, 3)),
                                rng(9).standard_normal(2)]),
    "LinearFunction_no_bias": (lambda f: f.LinearFunction.apply,
                               lambda: [rng(10).standard_normal((5, 3)), rng(11).standard_normal((2, 3))]),
    "MulConstant": (lambda f: lambda x: f.MulConstant.apply(x, 2.5), lambda: [rng(12).standard_normal(4)]),
    "SinCos_both": (lambda f: lambda x: (lambda s, c: s * 2 + c * c)(*f.SinCos.apply(x)),
                    lambda: [rng(13).standard_normal((2, 3))]),
    "SinCos_one_used": (lambda f: lambda x: f.SinCos.apply(x)[1] * 3, lambda: [rng(14).standard_normal(4)]),
    "MaxAndIndex": (lambda f: lambda x: f.MaxAndIndex.apply(x)[0], lambda: [rng(15).permutation(12).reshape(3, 4)
                                                                          .astype(np.float64)]),
    "Scale_setup_context": (lambda f: lambda x: f.Scale.apply(x, -1.5), lambda: [rng(16).standard_normal(3)]),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", CASES)
def test_custom_functions_match_torch(name: str, dtype: type) -> None:
    call, make = CASES[name]
    check_parity(call(MD), call(TH), make(), dtype)


@pytest.mark.parametrize("name", CASES)
def test_custom_functions_pass_gradcheck(name: str) -> None:
    call, make = CASES[name]
    check_grad(call(MD), make())


def test_gradcheck_catches_a_wrong_backward() -> None:
    class WrongExp(minidl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x.exp()

        @staticmethod
        def backward(ctx, grad_output):
            x, = ctx.saved_tensors
            return grad_output * x  # should be exp(x)

    x = minidl.tensor([0.3, -0.2], dtype=minidl.float64, requires_grad=True)
    with pytest.raises(minidl.GradcheckError):
        minidl.gradcheck(WrongExp.apply, (x,))


def test_graph_names_outputs_and_grad_mode() -> None:
    x = minidl.tensor([1.0, -2.0], requires_grad=True)
    values, index = MD.MaxAndIndex.apply(x.reshape(1, 2))
    assert values.grad_fn.name == "MaxAndIndexBackward" and repr(values.grad_fn) == "<MaxAndIndexBackward>"
    assert index.grad_fn is None and not index.requires_grad and index.dtype == minidl.int64
    assert MD.MyExp.apply(x).grad_fn.inputs[0] is x  # the node links to the input, not to ops inside forward
    with minidl.no_grad():
        assert MD.MyExp.apply(x).grad_fn is None
    assert MD.MyExp.apply(minidl.tensor([1.0])).grad_fn is None
    y = MD.MyExp.apply(x)
    y.sum().backward()
    assert repr(y.grad_fn) == "<MyExpBackward>"  # still named after backward freed the node


def test_forward_records_nothing_and_sees_needs_input_grad() -> None:
    seen = {}

    class Probe(minidl.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, c):
            seen["needs"] = ctx.needs_input_grad
            seen["inner"] = (a * 2).requires_grad
            return a * b

        @staticmethod
        def backward(ctx, g):
            return g, None, None

    Probe.apply(minidl.ones(2, requires_grad=True), minidl.ones(2), 3)
    assert seen == {"needs": (True, False, False), "inner": False}


def test_retain_graph_runs_backward_twice() -> None:
    x = minidl.tensor([0.5, 1.5], dtype=minidl.float64, requires_grad=True)
    y = MD.LegendrePolynomial3.apply(x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert np.allclose(x.grad.array, 2 * 1.5 * (5 * x.array ** 2 - 1))


def test_wrong_number_of_gradients_is_an_error() -> None:
    class TwoGrads(minidl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    with pytest.raises(RuntimeError, match="TwoGradsBackward returned an incorrect number of gradients"):
        TwoGrads.apply(minidl.ones(2, requires_grad=True)).sum().backward()


def test_minidl_array_form_still_works_through_the_same_base() -> None:
    class Cube(minidl.autograd.Function):
        """y = x^3;  dy/dx = 3 x^2."""

        def forward(self, x):
            self.x = x
            return x ** 3

        def backward(self, gy):
            return 3 * self.x ** 2 * gy

    x = minidl.tensor([1.0, -2.0, 0.5], dtype=minidl.float64, requires_grad=True)
    assert minidl.gradcheck(Cube.apply, (x,))
    assert Cube.apply(x).grad_fn.name == "CubeBackward"
    assert issubclass(minidl.autograd.Function, minidl.Function)


def test_custom_function_inside_a_module_trains_like_torch() -> None:
    """A layer whose forward uses LinearFunction: five SGD steps agree with PyTorch's."""
    weights = [rng(20).standard_normal((3, 4)) * 0.5, rng(21).standard_normal(3) * 0.1]
    x, target = rng(22).standard_normal((8, 4)), rng(23).standard_normal((8, 3))

    def train(lib, fns):
        w, b = (lib.tensor(a, requires_grad=True) for a in weights)
        opt = lib.optim.SGD([w, b], lr=0.1)
        for _ in range(5):
            opt.zero_grad()
            loss = ((fns.LinearFunction.apply(lib.tensor(x), w, b) - lib.tensor(target)) ** 2).mean()
            loss.backward()
            opt.step()
        return loss.item(), w.detach().numpy()

    (m_loss, m_w), (t_loss, t_w) = train(minidl, MD), train(torch, TH)
    assert abs(m_loss - t_loss) < 1e-12 and np.allclose(m_w, t_w, atol=1e-12)

"""Fused, numerically stable losses: one graph node each, forward and gradient side by side.

Every loss computes an elementwise (or per-sample) loss l and reduces it as PyTorch's
``reduction``: ``'none'`` returns l, ``'sum'`` returns sum(l), ``'mean'`` returns sum(l) / D
where D is the number of elements (cross entropy with class indices: the summed weights of
the non-ignored targets).  Backward therefore starts from dL/dl = gy, gy or gy / D.

Optional per-element ``weight``/``pos_weight`` and per-class ``weight`` arrays are node
attributes, not inputs: PyTorch does not differentiate them either.  Argument checking
lives in :mod:`minidl.functional.loss`, which users call.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

from minidl import backend
from minidl.autograd.function import Function
from minidl.autograd.tensor import Tensor
from minidl.ops.activation import _logsumexp, log_softmax, stable_sigmoid
from minidl.ops.elementwise import maximum

Array = backend.Array


def _quietly(compute: Callable[[], Array]) -> Array:
    """``compute()`` without NumPy's RuntimeWarnings: log 0 = -inf and 0 / 0 = NaN, silently, as PyTorch."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return compute()


class _Loss(Function):
    """Shared reduction: ``'none'``, ``'sum'`` or ``'mean'`` (sum divided by ``total``)."""

    reduction: str

    def _reduce(self, loss: Array, total: float | Array | None = None) -> Array:
        """Reduce the elementwise loss; ``total`` (default: its number of elements) divides the mean."""
        self.total = loss.size if total is None else total
        if self.reduction == "none":
            return loss
        s = loss.sum()
        return _quietly(lambda: s / self.total) if self.reduction == "mean" else s  # empty: NaN

    def _upstream(self, gy: Array) -> Array:
        """dL/dl for each element l of the unreduced loss (a 0-d array broadcasts for 'sum'/'mean')."""
        return gy / self.total if self.reduction == "mean" else gy


def _reduce_reference(loss: Tensor, reduction: str, total: float | Array | None = None) -> Tensor:
    """The reduction of the references: ``loss``, its sum, or its sum / ``total`` (default: its size)."""
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.sum() / (loss.numel() if total is None else total)


def _softplus_neg(x: Array) -> Array:
    """softplus(-x) = log(1 + e^-x) = -log(sigmoid(x)), stably: log1p(e^-|x|) + max(-x, 0)."""
    xp = backend.xp_of(x)
    return xp.log1p(xp.exp(-xp.abs(x))) + xp.maximum(-x, 0)


def binary_cross_entropy_with_logits_reference(x: Tensor, t: Tensor, weight: Array | None, pos_weight: Array | None,
                                               reduction: str) -> Tensor:
    """:class:`BinaryCrossEntropyWithLogits` from primitives, with softplus(-x) = max(-x, 0) + log(1 + e^-|x|)."""
    softplus_neg = maximum(-x, 0.0) + (1 + (-x.abs()).exp()).log()
    log_weight = 1 if pos_weight is None else 1 + (Tensor(pos_weight) - 1) * t
    loss = (1 - t) * x + log_weight * softplus_neg
    return _reduce_reference(loss if weight is None else loss * Tensor(weight), reduction)


class BinaryCrossEntropyWithLogits(_Loss):
    """l = w [(1 - t) x + (1 + (p_w - 1) t) softplus(-x)],  softplus(-x) = -log sigmoid(x).

    This is PyTorch's formula, -w [p_w t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], written
    in one node (the fused form of :func:`binary_cross_entropy_with_logits_reference`) so that
    it never overflows and never takes log(sigmoid(x)) (finite for x = +-1e4).  ``weight``
    w broadcasts against x; ``pos_weight`` p_w against t (along the class dimension).  With
    l_w = 1 + (p_w - 1) t (l_w = 1 without p_w):

        dl/dx = w (l_w sigmoid(x) - p_w t)        (= w (sigmoid(x) - t) without p_w)
        dl/dt = w (-x + (p_w - 1) softplus(-x))   (= -w x without p_w)
    """

    weight: Array | None
    pos_weight: Array | None

    def forward(self, x: Array, t: Array) -> Array:
        self.x, self.t = x, t
        self.softplus = _softplus_neg(x)
        log_weight = self.softplus if self.pos_weight is None else (1 + (self.pos_weight - 1) * t) * self.softplus
        loss = (1 - t) * x + log_weight
        return self._reduce(loss if self.weight is None else loss * self.weight)

    def backward(self, gy: Array) -> tuple[Array | None, Array | None]:
        g = self._upstream(gy)
        if self.weight is not None:
            g = g * self.weight
        x, t, pw = self.x, self.t, self.pos_weight
        gx = gt = None
        if self.needs_input_grad[0]:
            sig = stable_sigmoid(x)
            gx = g * (sig - t if pw is None else (1 + (pw - 1) * t) * sig - pw * t)
        if self.needs_input_grad[1]:
            gt = g * (-x if pw is None else (pw - 1) * self.softplus - x)
        return gx, gt


#: PyTorch's lower bound on x (1 - x) in the BCE gradient: 1e-12 rounded to a C float, as in its kernel
BCE_EPSILON = 9.999999960041972e-13


def binary_cross_entropy_reference(x: Tensor, t: Tensor, weight: Array | None, reduction: str) -> Tensor:
    """:class:`BinaryCrossEntropy` from primitives: -w [t log x + (1 - t) log(1 - x)], logs clamped at -100."""
    loss = -(t * x.log().clamp(min=-100.0) + (1 - t) * (1 - x).log().clamp(min=-100.0))
    return _reduce_reference(loss if weight is None else loss * Tensor(weight), reduction)


class BinaryCrossEntropy(_Loss):
    """l = -w [t max(log x, -100) + (1 - t) max(log(1 - x), -100)],  x in [0, 1] a probability.

    The fused form of :func:`binary_cross_entropy_reference` (for PyTorch's gradient, which
    bounds x (1 - x) below instead of going through the clamped logs; and speed: one node).
    The logs are clamped at -100 as PyTorch does, so x = 0 or 1 gives a finite loss.  Prefer
    :class:`BinaryCrossEntropyWithLogits` on logits: it is stable without clamping.  As PyTorch:

        dl/dx = w (x - t) / max(x (1 - x), 1e-12)     (1e-12 as a float32, :data:`BCE_EPSILON`)
        dl/dt = w (log(1 - x) - log x)            (-logit(x), unclamped: +-inf at x = 0, 1)
    """

    weight: Array | None

    def forward(self, x: Array, t: Array) -> Array:
        xp = backend.xp_of(x)
        if not bool(((x >= 0) & (x <= 1)).all()):  # NaN fails too, as in PyTorch
            raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
        self.x, self.t = x, t
        self.log_x, self.log_1mx = _quietly(lambda: xp.log(x)), _quietly(lambda: xp.log(1 - x))
        loss = (t - 1) * xp.maximum(self.log_1mx, -100) - t * xp.maximum(self.log_x, -100)
        return self._reduce(loss if self.weight is None else loss * self.weight)

    def backward(self, gy: Array) -> tuple[Array | None, Array | None]:
        xp = backend.xp_of(gy)
        g = self._upstream(gy)
        if self.weight is not None:
            g = g * self.weight
        x = self.x
        gx = g * (x - self.t) / xp.maximum((1 - x) * x, BCE_EPSILON) if self.needs_input_grad[0] else None
        gt = g * (self.log_1mx - self.log_x) if self.needs_input_grad[1] else None
        return gx, gt


def mse_loss_reference(x: Tensor, t: Tensor, reduction: str) -> Tensor:
    """:class:`MSELoss` from primitives: (x - t)^2, reduced."""
    return _reduce_reference((x - t) ** 2, reduction)


class MSELoss(_Loss):
    """l = (x - t)^2;  dl/dx = 2 (x - t),  dl/dt = -2 (x - t).  The fused form of
    :func:`mse_loss_reference` (for speed: one node, one temporary)."""

    def forward(self, x: Array, t: Array) -> Array:
        self.diff = x - t
        return self._reduce(self.diff * self.diff)

    def backward(self, gy: Array) -> tuple[Array | None, Array | None]:
        gx = (2 * self._upstream(gy)) * self.diff
        return gx, (-gx if self.needs_input_grad[1] else None)


def _class_weight(weight: Array | None, ndim: int) -> Array | None:
    """A per-class weight (C,) viewed as (1, C, 1, ...) to broadcast against an (N, C, d1, ...) input."""
    return None if weight is None else weight.reshape((1, -1) + (1,) * (ndim - 2))


def cross_entropy_reference(x: Tensor, target: Array, weight: Array | None, ignore_index: int,
                            label_smoothing: float, reduction: str) -> Tensor:
    """:class:`CrossEntropy` from primitives: l_i = -sum_c q_ic log_softmax(x)_ic with the constant
    q_ic = v_i [(1 - e) w_{t_i} [c = t_i] + (e / C) w_c] (the class docstring)."""
    xp, n_classes, e = backend.xp_of(x.array), x.shape[1], label_smoothing
    valid = target != ignore_index
    t = xp.where(valid, target, 0)
    w = xp.ones(n_classes, dtype=x.dtype) if weight is None else weight
    one_hot = xp.moveaxis(xp.eye(n_classes, dtype=x.dtype)[t], -1, 1)  # (N, C, d1, ...)
    w_t = w[t] * valid
    q = (1 - e) * one_hot * w_t[:, None] + (e / n_classes) * _class_weight(w, x.ndim) * valid[:, None]
    loss = -(Tensor(q) * log_softmax(x, 1)).sum(1)
    return _reduce_reference(loss, reduction, total=w_t.sum())


class CrossEntropy(_Loss):
    """Cross entropy of logits x (N, C, d1, ...) against class indices t (N, d1, ...), as PyTorch:
    the fused form of :func:`cross_entropy_reference` (for stability: log_softmax inside; and
    speed: one node, no one-hot matrix).

    With log p = log_softmax(x) over C, class weights w (1 if none), e = ``label_smoothing``,
    and v_i = 0 where t_i = ``ignore_index`` (1 elsewhere), the loss of sample i is

        l_i = v_i [(1 - e) w_{t_i} (-log p_{i t_i}) + (e / C) sum_c w_c (-log p_ic)]

    and the mean divides by D = sum_i v_i w_{t_i} (NaN when every target is ignored).  With
    q_ic = v_i [(1 - e) w_{t_i} [c = t_i] + (e / C) w_c], so that l_i = -sum_c q_ic log p_ic,

        dl_i/dx_ic = p_ic sum_c' q_ic' - q_ic.
    """

    target: Array
    weight: Array | None
    ignore_index: int
    label_smoothing: float

    def forward(self, x: Array) -> Array:
        xp = backend.xp_of(x)
        t, w, e, n_classes = self.target, _class_weight(self.weight, x.ndim), self.label_smoothing, x.shape[1]
        self.log_p = x - _logsumexp(x, 1)
        valid = t != self.ignore_index
        self.v = valid.astype(x.dtype)  # v_i
        self.t = xp.where(valid, t, 0)[:, None]  # ignored targets point at class 0, then get weight 0
        self.w_t = self.v if self.weight is None else self.weight[self.t[:, 0]] * self.v  # v_i w_{t_i}
        loss = xp.take_along_axis(self.log_p, self.t, axis=1)[:, 0] * -self.w_t
        if e > 0:
            smooth = -(self.log_p.sum(axis=1) if w is None else (self.log_p * w).sum(axis=1))
            loss = (1 - e) * loss + (e / n_classes) * (smooth * self.v)
        return self._reduce(loss, total=self.w_t.sum())

    def backward(self, gy: Array) -> Array:
        xp = backend.xp_of(gy)
        x_ndim, n_classes, e = self.log_p.ndim, self.log_p.shape[1], self.label_smoothing
        w = _class_weight(self.weight, x_ndim)
        classes = xp.arange(n_classes).reshape((1, -1) + (1,) * (x_ndim - 2))
        q = (classes == self.t) * ((1 - e) * self.w_t)[:, None]
        if e > 0:
            q += (e / n_classes) * (self.v[:, None] if w is None else w * self.v[:, None])
        g = self._upstream(gy)
        g = g[:, None] if self.reduction == "none" else g
        return g * (xp.exp(self.log_p) * q.sum(axis=1, keepdims=True) - q)


def cross_entropy_with_probabilities_reference(x: Tensor, t: Tensor, weight: Array | None, label_smoothing: float,
                                               reduction: str) -> Tensor:
    """:class:`CrossEntropyWithProbabilities` from primitives: -sum_c w_c q_ic log_softmax(x)_ic."""
    q = t if label_smoothing == 0 else (1 - label_smoothing) * t + label_smoothing / x.shape[1]
    wq = q if weight is None else q * Tensor(_class_weight(weight, x.ndim))
    return _reduce_reference(-(wq * log_softmax(x, 1)).sum(1), reduction, total=x.numel() // x.shape[1])


class CrossEntropyWithProbabilities(_Loss):
    """Cross entropy of logits x (N, C, d1, ...) against class probabilities t (same shape): the
    fused form of :func:`cross_entropy_with_probabilities_reference` (for stability and speed).

    With log p = log_softmax(x) over C, class weights w and smoothed targets
    q = (1 - e) t + e / C (e = ``label_smoothing``), as PyTorch:

        l_i = -sum_c w_c q_ic log p_ic,        mean: divided by N d1 ... (samples, not weights)
        dl_i/dx_ic = p_ic sum_c' w_c' q_ic' - w_c q_ic,    dl_i/dt_ic = -(1 - e) w_c log p_ic
    """

    weight: Array | None
    label_smoothing: float

    def forward(self, x: Array, t: Array) -> Array:
        e, n_classes = self.label_smoothing, x.shape[1]
        self.w = _class_weight(self.weight, x.ndim)
        self.log_p = x - _logsumexp(x, 1)
        q = t if e == 0 else (1 - e) * t + e / n_classes
        self.wq = q if self.w is None else q * self.w
        return self._reduce(-(self.log_p * self.wq).sum(axis=1), total=x.size // n_classes)

    def backward(self, gy: Array) -> tuple[Array | None, Array | None]:
        xp = backend.xp_of(gy)
        g = self._upstream(gy)
        g = g[:, None] if self.reduction == "none" else g
        gx = gt = None
        if self.needs_input_grad[0]:
            gx = g * (xp.exp(self.log_p) * self.wq.sum(axis=1, keepdims=True) - self.wq)
        if self.needs_input_grad[1]:
            w_log_p = self.log_p if self.w is None else self.log_p * self.w
            gt = (g * -(1 - self.label_smoothing)) * w_log_p
        return gx, gt

"""Functional interface, as in ``torch.nn.functional`` (imported as ``F``)."""

from minidl.functional.conv import conv1d, conv2d  # noqa: F401
from minidl.functional.dropout import dropout  # noqa: F401 - re-exported
from minidl.functional.linear import linear  # noqa: F401
from minidl.functional.loss import (  # noqa: F401
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from minidl.functional.normalization import batch_norm, layer_norm  # noqa: F401
from minidl.functional.pooling import (  # noqa: F401
    adaptive_avg_pool1d,
    adaptive_avg_pool2d,
    avg_pool1d,
    avg_pool2d,
    max_pool1d,
    max_pool2d,
)
from minidl.functional.sparse import embedding  # noqa: F401
from minidl.ops.activation import *  # noqa: F403 - every activation function (its __all__)
from minidl.ops.shape import pad  # noqa: F401

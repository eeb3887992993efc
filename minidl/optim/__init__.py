"""Optimizers and learning-rate schedules, as ``torch.optim``.

``Optimizer`` (the base class), ``SGD``, ``RMSprop``, ``Adam``, ``AdamW``, ``Adagrad``, ``Adadelta``,
``LBFGS``; the schedules live in
``minidl.optim.lr_scheduler`` (``StepLR``, ``ExponentialLR``, ``CosineAnnealingLR``,
``LambdaLR``, ``ReduceLROnPlateau``).
"""

from minidl.optim import lr_scheduler
from minidl.optim.adadelta import Adadelta
from minidl.optim.adagrad import Adagrad
from minidl.optim.adam import Adam, AdamW
from minidl.optim.lbfgs import LBFGS
from minidl.optim.optimizer import Optimizer
from minidl.optim.rmsprop import RMSprop
from minidl.optim.sgd import SGD

__all__ = ["LBFGS", "SGD", "Adadelta", "Adagrad", "Adam", "AdamW", "Optimizer", "RMSprop", "lr_scheduler"]

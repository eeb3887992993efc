"""Ready-made models: the paper's three AudioSet taggers (:mod:`minidl.models.audioset`)."""

from minidl.models.audioset import MODELS, conv_model, fc_model, init_weights, residual_model

__all__ = ["MODELS", "conv_model", "fc_model", "init_weights", "residual_model"]

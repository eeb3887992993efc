"""``minidl.nn.functional`` is ``minidl.functional``: PyTorch's path (``import torch.nn.functional as F``) works too.

The module replaces itself with :mod:`minidl.functional` on import, so there is one module with
two names, not a copy.
"""

import sys

from minidl import functional

sys.modules[__name__] = functional

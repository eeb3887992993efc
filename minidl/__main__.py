"""``python -m minidl``: the ``minidl`` command."""

import sys

from minidl.cli.main import main

sys.exit(main())

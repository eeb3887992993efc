"""The ``minidl`` command line.

Each command group lives in its own module of this package and defines
``register(commands)``, which adds its sub-parser to ``commands`` (an argparse sub-parsers
object) and sets ``run=handler`` on it; :mod:`minidl.cli.main` finds the modules by itself,
so adding a group (``bench``, ``train``, ...) is adding a module.
"""

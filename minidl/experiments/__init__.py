"""The paper's experiments (Tables 2-4, Figures 2-6, and one beyond it), run by ``minidl experiment NAME``.

Each is a file ``experiments/<name>.toml`` (see :mod:`minidl.experiments.runner`); the runner trains
its runs with :mod:`minidl.train` and :mod:`minidl.experiments.report` writes ``table.md``,
``curves.png``, ``results.json`` and ``report.md`` into the output folder.
"""

from minidl.experiments.report import plot_curves, table, write_report
from minidl.experiments.runner import SCALES, Experiment, experiment_names, load_experiment, run_experiment

__all__ = ["SCALES", "Experiment", "experiment_names", "load_experiment", "plot_curves", "run_experiment", "table",
           "write_report"]

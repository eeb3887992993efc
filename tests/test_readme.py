"""The README stays true: its example runs, and its layout table names every package."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_readme_example_runs_and_prints_what_it_says(capsys):
    code = re.search(r"```python\n(.*?)```", README, re.S).group(1)
    exec(compile(code, "README.md", "exec"), {})
    printed = capsys.readouterr().out.strip()
    promised = re.search(r"print\(loss\)\s+# (tensor\(.*\))", code).group(1)
    assert printed == promised


def test_layout_lists_every_package():
    packages = {p.name for p in (ROOT / "minidl").iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    listed = set(re.findall(r"\| `minidl/(\w+)/", README))
    assert packages == listed, f"README layout out of date: missing {packages - listed}, extra {listed - packages}"


def test_readme_test_command_is_what_ci_runs():
    command = re.search(r"# 2\. The tests.*\n(.*)\n", README).group(1).strip()
    assert command in (ROOT / ".ci" / "run").read_text().splitlines()

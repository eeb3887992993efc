"""The guided tour (docs/tour/) stays true: every ```python block runs, every link resolves, the
index lists every page, and the reading order's table is what tools/reading_path.py measures.

The blocks of one page run in order in one namespace (a later block uses the names of earlier
ones), compiled with the page's file name and line numbers, so a failing assert points at the
page's line.  Pages run on the CPU.
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TOUR = ROOT / "docs" / "tour"
PAGES = sorted(TOUR.glob("[0-9][0-9]-*.md"))
#: a fenced python block, possibly indented (inside a list item): its indentation and its body
BLOCK = re.compile(r"^(?P<indent>[ \t]*)```python\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")


def python_blocks(page: Path) -> list[tuple[int, str]]:
    """(first line number, dedented code) of every ```python block of ``page``."""
    text = page.read_text()
    blocks = []
    for match in BLOCK.finditer(text):
        indent = len(match["indent"])
        code = "".join(line[indent:] for line in match["body"].splitlines(keepends=True))
        blocks.append((text.count("\n", 0, match.start("body")) + 1, code))
    return blocks


def reading_path():
    spec = importlib.util.spec_from_file_location("reading_path", ROOT / "tools" / "reading_path.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pages_are_numbered_from_one_without_gaps():
    assert [int(p.name[:2]) for p in PAGES] == list(range(1, len(PAGES) + 1))
    assert PAGES[0].name == "01-reading-order.md"


@pytest.mark.filterwarnings("ignore:divide by zero encountered:RuntimeWarning")  # NaN and Inf on purpose
@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_every_python_block_of_the_page_runs(page: Path):
    blocks = python_blocks(page)
    assert blocks or page.name == "01-reading-order.md", f"{page.name} has no python block"
    namespace = {"__name__": f"tour_{page.stem.replace('-', '_')}"}
    for line, code in blocks:
        exec(compile("\n" * (line - 1) + code, str(page), "exec"), namespace)


@pytest.mark.parametrize("page", [*PAGES, TOUR / "README.md"], ids=lambda p: p.stem)
def test_links_resolve_and_name_no_line_numbers(page: Path):
    links = [link for link in LINK.findall(page.read_text()) if "://" not in link]
    assert any(link.startswith("../../") for link in links) or page.name == "README.md", \
        f"{page.name} links to no source file"
    for link in links:
        assert "#L" not in link, f"{page.name}: {link} points at a line number; name the definition instead"
        assert (page.parent / link.split("#")[0]).resolve().exists(), f"{page.name}: broken link {link}"


def test_index_lists_every_page():
    index = (TOUR / "README.md").read_text()
    assert [p.name for p in PAGES] == re.findall(r"\]\((\d\d-[^)]+\.md)\)", index)


def test_reading_order_table_is_what_the_script_measures():
    page = (TOUR / "01-reading-order.md").read_text()
    table = reading_path().markdown()
    assert table in page, "docs/tour/01-reading-order.md is stale: paste `python tools/reading_path.py --markdown`"


def test_reading_path_names_real_definitions():
    module = reading_path()
    files, lines = module.total()
    assert files == len({step.file for step in module.PATH}) and lines > 0
    assert all(module.lines(step) > 0 for step in module.PATH)

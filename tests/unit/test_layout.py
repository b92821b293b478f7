"""Modules a newcomer can carry on: none over 500 lines, and the operator's CLI imports its parts one way only."""

import ast
from pathlib import Path

SRC = Path(__file__).parents[2] / "src"
MAX_LINES = 500


def test_no_module_holds_more_than_500_lines():
    sizes = {p.relative_to(SRC).as_posix(): len(p.read_text().splitlines()) for p in SRC.rglob("*.py")}
    assert {m: n for m, n in sizes.items() if n > MAX_LINES} == {}, "split them by what they hold"


def test_no_part_of_stockctl_imports_its_entry_point():
    for path in (SRC / "stockctl").glob("*.py"):
        if path.name == "__main__.py":
            continue
        imported = {
            node.module
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module
        } | {
            alias.name
            for node in ast.walk(ast.parse(path.read_text()))
            if isinstance(node, ast.Import)
            for alias in node.names
        }
        assert "stockctl.__main__" not in imported, path.name

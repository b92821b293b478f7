"""Modules a newcomer can carry on: none over 500 lines, no circle of imports, and the operator's CLI imports its
parts one way only."""

import ast
import re
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


def _module_imports() -> dict[str, set[str]]:
    """Each module of src/ and the modules of src/ it imports, wherever the import stands (at the top, inside a
    function or under TYPE_CHECKING: a lazy import hides a circle, it does not break it)."""
    modules = {}
    for path in SRC.rglob("*.py"):
        parts = list(path.relative_to(SRC).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(parents + ([node.module] if node.module else []))
                found |= {base} | {f"{base}.{alias.name}" for alias in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def test_no_two_modules_import_each_other_even_through_others():
    graph = _module_imports()
    reach = {}

    def reachable(start):
        seen, todo = set(), list(graph[start])
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(graph[module])
        return seen

    for module in graph:
        reach[module] = reachable(module)
    circles = sorted({tuple(sorted((a, b))) for a in graph for b in reach[a] if a in reach[b] and a != b})
    assert circles == [], "a circle of imports: move what both need into a module of its own, or pass it in"


def test_the_pictures_live_in_the_top_level_img_folder_and_every_one_named_exists():
    root = SRC.parent
    pictures = {p.name for p in (root / "img").iterdir()}
    assert "architecture.png" in pictures
    assert not (root / "docs" / "img").exists(), "one place for the pictures: img/ (the docs site reads it)"
    pages = [root / "README.md", *(root / "docs").glob("*.md")]
    named = {(page.name, name) for page in pages for name in re.findall(r"\bimg/([\w.-]+\.png)", page.read_text())}
    assert {(page, name) for page, name in named if name not in pictures} == set()
    assert len(named) > 5


def test_make_test_shuffles_tests_within_their_modules_and_keeps_the_modules_in_order():
    from types import SimpleNamespace

    from tests.conftest import _shuffled_within_modules

    items = [SimpleNamespace(nodeid=f"tests/{m}.py::t{n}") for m in ("a", "b") for n in range(30)]
    once, again = _shuffled_within_modules(items, 7), _shuffled_within_modules(items, 7)
    assert once == again != items  # a seed repeats its order
    assert [i.nodeid.split("::")[0] for i in once] == [i.nodeid.split("::")[0] for i in items]
    assert sorted(i.nodeid for i in once) == sorted(i.nodeid for i in items)


def test_a_modules_shuffled_order_is_the_same_whatever_else_is_selected():
    from types import SimpleNamespace

    from tests.conftest import _shuffled_within_modules

    alone = [SimpleNamespace(nodeid=f"tests/b.py::t{n}") for n in range(20)]
    others = [SimpleNamespace(nodeid=f"tests/a.py::t{n}") for n in range(13)]
    with_others = _shuffled_within_modules(others + alone, 137)
    assert [i.nodeid for i in with_others if i.nodeid.startswith("tests/b.py")] == [
        i.nodeid for i in _shuffled_within_modules(alone, 137)
    ]

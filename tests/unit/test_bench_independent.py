"""``bench/`` stands on its own: no script imports ``tests/`` (what both need lives in
``testkit``), so a benchmark never depends on a conftest or a test's fixture."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _imports_of_tests(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):  # every import, also one placed inside a function
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] == "tests":
                found.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "tests":
                    found.append((node.lineno, alias.name))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id)
            in ("import_module", "__import__")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and str(node.args[0].value).split(".")[0] == "tests"
        ):
            found.append((node.lineno, str(node.args[0].value)))
    return found


def test_no_bench_script_imports_tests() -> None:
    scripts = sorted((ROOT / "bench").rglob("*.py"))
    assert scripts, "bench/ has no Python script: the test would prove nothing"
    found = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in scripts
        for line, module in _imports_of_tests(ast.parse(path.read_text()))
    ]
    assert found == [], "bench/ imports tests/ (move what it needs to testkit):\n" + "\n".join(
        found
    )


def test_the_check_sees_every_kind_of_import() -> None:
    source = (
        "import tests.conftest\n"
        "def f():\n"
        "    from tests.audit import x\n"
        "    importlib.import_module('tests.support')\n"
        "import testkit.fund\n"
    )
    assert [line for line, _m in _imports_of_tests(ast.parse(source))] == [1, 3, 4]

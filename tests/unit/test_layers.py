"""The layers hold by construction: ``lint-imports`` (run by ``make test``) checks the
contracts in ``.importlinter``; these tests check what it cannot see."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FIRST_PARTY = {
    "api",
    "app",
    "care",
    "commands",
    "contracts",
    "demo",
    "dispensing",
    "invoices",
    "ledger",
    "reports",
    "stock",
    "web",
}
SOURCE = [
    "app.py",
    "commands.py",
    "api",
    "care",
    "contracts",
    "demo",
    "dispensing",
    "invoices",
    "ledger",
    "reports",
    "stock",
    "web",
]


def _python_files() -> list[Path]:
    out: list[Path] = []
    for name in SOURCE:
        p = ROOT / name
        if p.is_file():
            out.append(p)
        elif p.is_dir():
            out.extend(sorted(p.rglob("*.py")))
    return out


def _imports_inside_functions(tree: ast.AST) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    for fn in ast.walk(tree):
        if not isinstance(fn, ast.FunctionDef | ast.AsyncFunctionDef):
            continue
        for node in ast.walk(fn):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                if node.module.split(".")[0] in FIRST_PARTY:
                    found.append((node.lineno, node.module))
            elif isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.name.split(".")[0] in FIRST_PARTY:
                        found.append((node.lineno, alias.name))
    return found


def test_no_first_party_import_is_hidden_inside_a_function() -> None:
    hidden = [
        f"{path.relative_to(ROOT)}:{line} imports {module}"
        for path in _python_files()
        for line, module in _imports_inside_functions(ast.parse(path.read_text()))
    ]
    assert hidden == [], "imports placed inside functions (a cycle dodged?):\n" + "\n".join(hidden)


CHART_CODES = {
    "1010",
    "1020",
    "1200",
    "1300",
    "1400",
    "2000",
    "2100",
    "3000",
    "3100",
    "3200",
    "4000",
    "5000",
    "5100",
    "5200",
    "5300",
    "5400",
    "9000",
    "9100",
}


def _account_literals(tree: ast.AST) -> list[tuple[int, str]]:
    """String constants that are an account code ("5000") or a sub-account prefix
    ("1200-..." or f"1200-{code}")."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr) and node.values:
            first = node.values[0]
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                if first.value[:4] in CHART_CODES and first.value[4:5] == "-":
                    found.append((node.lineno, first.value))
            continue
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            v = node.value
            if v in CHART_CODES or (v[:4] in CHART_CODES and v[4:5] == "-"):
                found.append((node.lineno, v))
    return found


def test_no_account_code_literal_outside_the_chart() -> None:
    chart = ROOT / "ledger" / "chart.py"
    found = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for path in _python_files()
        if path != chart
        for line, text in _account_literals(ast.parse(path.read_text()))
    ]
    assert found == [], "account codes written outside ledger/chart.py:\n" + "\n".join(found)

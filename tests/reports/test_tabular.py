"""reports.tabular without a database: CSV layout and round trip, XLSX typed cells and
formats, and the refusals that keep floats away from money."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from openpyxl import load_workbook

from api.tabular import negotiated_format, respond
from reports.tabular import (
    XLSX_MIME,
    Col,
    Money,
    Report,
    Section,
    parse_csv_sections,
    to_csv,
    to_xlsx,
)

COLS = [
    Col("day", "date"),
    Col("what"),
    Col("khr", "money", "KHR", 0),
    Col("usd", "money", "USD"),
    Col("units", "quantity"),
    Col("recovery", "percent"),
]
ROWS: list[list[Any]] = [
    [date(2026, 10, 1), 'a "quoted", comma', 1_500_000, "12.50", 60, "85.5"],
    ["2026-10-02", "ការបង់ប្រាក់", Money(-3000, 0), Money(-1999, 2, "USD"), 0, Decimal("100")],
    [None, None, None, None, None, None],
]


def report(*sections: Section) -> Report:
    return Report("Test report", list(sections) or [Section("Lines", COLS, ROWS)])


def test_one_section_is_a_plain_csv_with_plain_decimals() -> None:
    text = to_csv(report())
    assert text.splitlines() == [
        "day,what,khr,usd,units,recovery",
        '2026-10-01,"a ""quoted"", comma",1500000,12.50,60,85.5',
        "2026-10-02,ការបង់ប្រាក់,-3000,-19.99,0,100",
        ",,,,,",
    ]
    assert parse_csv_sections(text) == {
        "": [
            ["day", "what", "khr", "usd", "units", "recovery"],
            ["2026-10-01", 'a "quoted", comma', "1500000", "12.50", "60", "85.5"],
            ["2026-10-02", "ការបង់ប្រាក់", "-3000", "-19.99", "0", "100"],
            ["", "", "", "", "", ""],
        ]
    }


def test_several_sections_are_marked_and_separated_and_read_back() -> None:
    two = report(Section("First", [Col("a")], [["1"]]), Section("Second", [Col("b")], [["2"]]))
    text = to_csv(two)
    assert text == "# First\r\na\r\n1\r\n\r\n# Second\r\nb\r\n2\r\n"
    assert parse_csv_sections(text) == {"First": [["a"], ["1"]], "Second": [["b"], ["2"]]}


def test_xlsx_cells_are_typed_with_the_currency_formats_and_the_header_frozen() -> None:
    wb = load_workbook(io.BytesIO(to_xlsx(report())))
    ws = wb["Lines"]
    assert ws.freeze_panes == "A2" and all(c.font.b for c in ws[1])
    day, what, khr, usd, units, pct = ws[2]
    assert isinstance(day.value, datetime) and day.value.date() == date(2026, 10, 1)
    assert day.number_format == "yyyy-mm-dd"
    assert khr.value == 1_500_000 and khr.number_format == "#,##0"
    assert Decimal(str(usd.value)) == Decimal("12.50") and usd.number_format == "#,##0.00"
    assert units.value == 60 and units.number_format == "#,##0"
    assert Decimal(str(pct.value)) == Decimal("0.855") and pct.number_format == "0.00%"
    assert [c.value for c in ws[3]][2:4] == [-3000, -19.99]
    assert [c.value for c in ws[4]] == [None] * 6
    assert ws.column_dimensions["B"].width >= len('a "quoted", comma')


def test_sheet_names_are_cut_to_31_characters_cleaned_and_unique() -> None:
    long = "Stock on hand: central / all lots [2026]"
    wb = load_workbook(
        io.BytesIO(to_xlsx(report(Section(long, [Col("a")], []), Section(long, [Col("a")], []))))
    )
    assert [len(n) <= 31 for n in wb.sheetnames] == [True, True]
    assert len(set(wb.sheetnames)) == 2 and not any(ch in "".join(wb.sheetnames) for ch in ":/[]")


@pytest.mark.parametrize("bad", [12.5, True, "12.505"])
def test_money_never_takes_a_float_a_bool_or_more_decimals_than_its_currency(bad: object) -> None:
    cols = [Col("usd", "money", "USD", 2)]
    with pytest.raises((TypeError, ValueError)):
        to_csv(report(Section("S", cols, [[bad]])))


def test_an_int_of_minor_units_needs_the_columns_exponent() -> None:
    with pytest.raises(ValueError, match="exponent"):
        to_xlsx(report(Section("S", [Col("m", "money")], [[1250]])))


def test_rows_may_be_a_generator_consumed_once() -> None:
    def rows() -> Iterator[list[object]]:
        for i in range(600):  # more than the width sample
            yield [i, "x" * (i // 10)]

    wb = load_workbook(
        io.BytesIO(to_xlsx(report(Section("G", [Col("n", "quantity"), Col("t")], rows()))))
    )
    assert wb["G"].max_row == 601 and wb["G"]["A601"].value == 599


@pytest.mark.parametrize(
    ("accept", "query", "expected"),
    [
        (None, "", "json"),
        ("*/*", "", "json"),
        ("text/csv", "", "csv"),
        (XLSX_MIME, "", "xlsx"),
        ("text/csv;q=0.5, application/json", "", "json"),
        ("application/json", "?format=xlsx", "xlsx"),
        ("image/png", "", None),
        (None, "?format=pdf", None),
    ],
)
def test_the_format_is_negotiated_on_the_query_first_then_accept(
    accept: str | None, query: str, expected: str | None
) -> None:
    app = Flask(__name__)
    headers = {"Accept": accept} if accept else {}
    with app.test_request_context("/r" + query, headers=headers):
        assert negotiated_format() == expected


def test_respond_gives_back_the_json_payload_untouched_and_builds_the_report_only_when_needed() -> (
    None
):
    app = Flask(__name__)
    payload: dict[str, list[Any]] = {"rows": []}
    built: list[int] = []

    def build() -> Report:
        built.append(1)
        return report()

    with app.test_request_context("/r"):
        assert respond(build, payload) is payload and built == []
    with app.test_request_context("/r?format=xlsx"):
        r = respond(build, payload, filename="Stock on hand")
        assert r.mimetype == XLSX_MIME and built == [1]
        assert r.headers["Content-Disposition"] == 'attachment; filename="stock-on-hand.xlsx"'

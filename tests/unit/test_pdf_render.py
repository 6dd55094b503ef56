"""The PDF renderer: page furniture, totals, repeated headers, amounts, Khmer, charts, speed."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pypdf
import pytest

from reports.pdf import (
    BarChartSection,
    Column,
    Document,
    KeyValueSection,
    TableSection,
    display_amount,
    khmer_font_available,
    render_pdf,
)

SEAL = "3f9a0c5be1d27f4468ac19e0b2d35c7e8f01a6b4c9d2e7f3a5b8c1d4e6f70912"
MADE = datetime(2026, 11, 1, 7, 30, 5, tzinfo=UTC)
COLUMNS = (
    Column("Date"),
    Column("Reference"),
    Column("Patient", width=2.0),
    Column("Charged KHR", "right"),
    Column("Subsidy KHR", "right"),
)


def _rows(n: int, name: str = "Chan Dara") -> Iterator[tuple[str, ...]]:
    for i in range(n):
        yield (
            f"2026-10-{1 + i % 28:02d}",
            f"D-{i:06d}",
            name,
            display_amount(1500 * (1 + i % 5), 0),
            display_amount(-250 * (i % 3), 0),
        )


def _document(rows: int, **overrides: object) -> Document:
    fields: dict[str, object] = {
        "fund_name": "Takeo Revolving Drug Fund",
        "title": "Pharmacy monthly statement",
        "period": "2026-10",
        "made_at": MADE,
        "seal": SEAL,
        "subtitle": ("Pharmacy P1 — Takeo Pharmacy", "Currency KHR"),
        "sections": (
            KeyValueSection("Summary", (("Opening balance", "1,000,000"),)),
            TableSection(
                "Dispensings", COLUMNS, _rows(rows), totals=("Total", "", "", "987,654", "-4,321")
            ),
        ),
    }
    fields.update(overrides)
    return Document(**fields)  # type: ignore[arg-type]


def _pages(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(io.BytesIO(pdf)).pages]


def _ink_fraction(pdf: bytes) -> float:
    """Rasterise page 1 (pypdfium2, pinned) and return the fraction of non-white pixels."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=1).to_pil().convert("L")
    finally:
        document.close()
    pixels = image.tobytes()
    return sum(1 for value in pixels if value < 200) / len(pixels)


def test_every_page_names_fund_title_period_made_time_seal_and_page_n_of_m() -> None:
    pages = _pages(render_pdf(_document(130)))
    assert len(pages) == 3
    for number, text in enumerate(pages, start=1):
        assert "Takeo Revolving Drug Fund" in text
        assert "Pharmacy monthly statement" in text
        assert "2026-10" in text
        assert "Made 2026-11-01 07:30:05 UTC" in text
        assert SEAL in text
        assert f"Page {number} of 3" in text


def test_every_totals_cell_is_in_the_text() -> None:
    text = "\n".join(_pages(render_pdf(_document(130))))
    for cell in ("Total", "987,654", "-4,321"):
        assert cell in text
    assert "1,000,000" in text


def test_made_at_is_printed_in_utc_whatever_the_zone_given() -> None:
    phnom_penh = timezone(timedelta(hours=7))
    made = datetime(2026, 11, 1, 14, 30, 5, tzinfo=phnom_penh)
    (text,) = _pages(render_pdf(_document(3, made_at=made)))
    assert "Made 2026-11-01 07:30:05 UTC" in text


def test_an_unsealed_document_says_not_sealed() -> None:
    (text,) = _pages(render_pdf(_document(3, seal=None)))
    assert "not sealed" in text


def test_a_500_row_table_repeats_its_header_on_every_page() -> None:
    pages = _pages(render_pdf(_document(500)))
    assert len(pages) > 5
    for text in pages:
        for column in COLUMNS:
            assert column.title in text
    assert f"Page {len(pages)} of {len(pages)}" in pages[-1]
    assert "D-000000" in pages[0] and "D-000499" in pages[-1]


def test_every_row_of_a_long_table_is_printed_once() -> None:
    text = "\n".join(_pages(render_pdf(_document(500))))
    for i in range(500):
        assert text.count(f"D-{i:06d}") == 1


def test_rows_may_be_a_one_shot_generator_pulled_a_page_at_a_time() -> None:
    pulled = 0
    pulled_when_page_two_began: list[int] = []

    def counting() -> Iterator[tuple[str, ...]]:
        nonlocal pulled
        for row in _rows(2_000):
            pulled += 1
            yield row

    import reports.pdf.render as render_module

    original = render_module._NumberedCanvas.showPage

    def spying(canvas: render_module._NumberedCanvas) -> None:
        if not pulled_when_page_two_began:
            pulled_when_page_two_began.append(pulled)
        original(canvas)

    document = _document(0, sections=(TableSection("Dispensings", COLUMNS, counting()),))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(render_module._NumberedCanvas, "showPage", spying)
        pages = _pages(render_pdf(document))
    assert pulled == 2_000
    assert pulled_when_page_two_began[0] < 2 * 60  # about one page read ahead, not all rows
    assert "D-001999" in pages[-1]


def test_ten_thousand_rows_render_every_row_on_numbered_pages() -> None:
    # How fast is measured in bench/ (bench/RESULTS.md), never by a timed test.
    pdf = render_pdf(_document(10_000))
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    n = len(reader.pages)
    assert n > 150
    assert f"Page {n} of {n}" in reader.pages[-1].extract_text()


@pytest.mark.parametrize(
    ("minor", "exponent", "shown"),
    [
        (1_500_000, 0, "1,500,000"),
        (123_456, 2, "1,234.56"),
        (-150_000, 2, "-1,500.00"),
        (-1_500, 0, "-1,500"),
        (0, 0, "0"),
        (0, 2, "0.00"),
        (5, 2, "0.05"),
        (-5, 2, "-0.05"),
        (999, 0, "999"),
        (100_000_000_000, 2, "1,000,000,000.00"),
        (1_234_567, 3, "1,234.567"),
    ],
)
def test_display_amount_formats_khr_usd_negatives_and_zero(
    minor: int, exponent: int, shown: str
) -> None:
    assert display_amount(minor, exponent) == shown


def test_display_amount_refuses_floats_and_negative_exponents() -> None:
    with pytest.raises(TypeError):
        display_amount(15.0, 2)  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        display_amount(15, -1)


def test_a_rendered_page_is_not_blank() -> None:
    assert _ink_fraction(render_pdf(_document(60))) > 0.02


def test_khmer_text_in_cells_does_not_crash_and_the_document_renders() -> None:
    totals = ("សរុប", "", "", "987,654", "-4,321")
    document = _document(
        80,
        fund_name="មូលនិធិឱសថ Takeo",
        subtitle=("ឱសថស្ថាន P1 — តាកែវ",),
        sections=(
            KeyValueSection("សង្ខេប", (("សមតុល្យដើម", "1,000,000"),)),
            TableSection("Dispensings", COLUMNS, _rows(80, "សុខ សុភា ក្រុង ស្រី"), totals=totals),
        ),
    )
    pdf = render_pdf(document)
    pages = _pages(pdf)
    assert len(pages) == 2
    assert "Page 2 of 2" in pages[-1] and "987,654" in pages[-1]
    assert _ink_fraction(pdf) > 0.02
    if khmer_font_available():  # the Noto Sans Khmer subset is embedded
        assert b"NotoSansKhmer" in pdf


def test_text_no_font_covers_does_not_crash() -> None:
    rows = [("2026-10-01", "D-1", "王小明 🙂 → ok", "1", "2")]
    pdf = render_pdf(_document(0, sections=(TableSection("Odd", COLUMNS, rows),)))
    assert "Page 1 of 1" in _pages(pdf)[0]


def test_a_bar_chart_section_renders() -> None:
    chart = BarChartSection(
        "Cost recovery",
        labels=[f"2026-{m:02d}" for m in range(1, 11)],
        values_percent=[
            Decimal(v)
            for v in (
                "82.5",
                "91",
                "97.25",
                "101.3",
                "99.9",
                "104",
                "88.8",
                "95.5",
                "110.2",
                "100.0",
            )
        ],
        reference_line=Decimal(100),
    )
    pdf = render_pdf(_document(0, sections=(chart,)))
    (text,) = _pages(pdf)
    for label in ("Cost recovery", "2026-01", "2026-10", "97.25%", "110.2%"):
        assert label in text
    assert _ink_fraction(pdf) > 0.02


def test_a_bar_chart_with_negative_values_or_no_values_renders() -> None:
    negative = BarChartSection("Margin", ["2026-09", "2026-10"], [Decimal("-12.5"), Decimal(30)])
    empty = BarChartSection("Nothing yet", [], [])
    (text,) = _pages(render_pdf(_document(0, sections=(negative, empty))))
    assert "-12.5%" in text and "No data" in text


def test_an_empty_table_says_so_and_keeps_its_totals() -> None:
    table = TableSection("Dispensings", COLUMNS, [], totals=("Total", "", "", "0", "0"))
    (text,) = _pages(render_pdf(_document(0, sections=(table,))))
    assert "No entries" in text and "Total" in text


def test_a_table_of_more_than_seven_columns_turns_the_page_to_landscape() -> None:
    wide = TableSection("Trial balance", [Column(f"C{i}", "right") for i in range(9)], [])
    pdf = render_pdf(_document(0, sections=(wide,)))
    box = pypdf.PdfReader(io.BytesIO(pdf)).pages[0].mediabox
    assert box.width > box.height
    narrow = render_pdf(_document(3))
    box = pypdf.PdfReader(io.BytesIO(narrow)).pages[0].mediabox
    assert box.width < box.height


def test_a_row_with_the_wrong_number_of_cells_is_refused() -> None:
    table = TableSection("Dispensings", COLUMNS, [("only", "three", "cells")])
    with pytest.raises(ValueError, match="row 1 has 3 cells"):
        render_pdf(_document(0, sections=(table,)))


def test_a_cell_that_is_not_a_string_is_refused() -> None:
    table = TableSection("Dispensings", COLUMNS, [("2026-10-01", "D-1", "x", 1500, "0")])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="formatted strings"):
        render_pdf(_document(0, sections=(table,)))


def test_totals_of_the_wrong_width_are_refused() -> None:
    table = TableSection("Dispensings", COLUMNS, [], totals=("Total",))
    with pytest.raises(ValueError, match="totals"):
        render_pdf(_document(0, sections=(table,)))


def test_the_same_document_renders_to_the_same_bytes() -> None:
    assert render_pdf(_document(100)) == render_pdf(_document(100))

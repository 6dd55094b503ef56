"""Bank statement CSV parsing and matching of bank lines to payments."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from invoices.bankcsv import (
    MAX_BANK_LINES,
    BankLine,
    MalformedStatement,
    Match,
    PaymentRef,
    match_lines,
    parse_bank_csv,
)

EXPONENTS = {"KHR": 0, "USD": 2}
HEADER = "date,amount,currency,reference,description\n"


def parse(text: str) -> list[BankLine]:
    return parse_bank_csv(text.encode("utf-8"), EXPONENTS)


def refused(data: str | bytes) -> MalformedStatement:
    raw = data.encode("utf-8") if isinstance(data, str) else data
    with pytest.raises(MalformedStatement) as caught:
        parse_bank_csv(raw, EXPONENTS)
    return caught.value


# --- parsing: what is read ----------------------------------------------------------------


def test_a_plain_statement_is_read_into_signed_minor_units() -> None:
    lines = parse(HEADER + "2024-03-01,1500000,KHR,PAY-1,Pharmacy A\n2024-03-02,-12.50,USD,,Fee\n")
    assert lines == [
        BankLine(2, date(2024, 3, 1), 1_500_000, "KHR", "PAY-1", "Pharmacy A"),
        BankLine(3, date(2024, 3, 2), -1250, "USD", "", "Fee"),
    ]


def test_amounts_are_ints_never_floats() -> None:
    (line,) = parse(HEADER + "2024-03-01,0.10,USD,R,D\n")
    assert type(line.amount_minor) is int
    assert line.amount_minor == 10


def test_a_utf8_bom_is_ignored() -> None:
    lines = parse_bank_csv(("\ufeff" + HEADER + "2024-03-01,100,KHR,R,D\n").encode(), EXPONENTS)
    assert lines[0].amount_minor == 100


def test_crlf_line_endings_are_accepted() -> None:
    text = HEADER.replace("\n", "\r\n") + "2024-03-01,100,KHR,R,D\r\n2024-03-02,5,KHR,S,E\r\n"
    lines = parse(text)
    assert [(x.line_number, x.amount_minor) for x in lines] == [(2, 100), (3, 5)]


def test_the_header_is_case_insensitive_in_any_order_and_extra_columns_are_ignored() -> None:
    text = (
        "Description, BALANCE ,Currency,AMOUNT,Reference,Date\nRent,999,usd,-20.00,R1,2024-03-01\n"
    )
    (line,) = parse(text)
    assert line == BankLine(2, date(2024, 3, 1), -2000, "USD", "R1", "Rent")


def test_quoted_fields_may_contain_commas() -> None:
    (line,) = parse(HEADER + '2024-03-01,100,KHR,"INV-1, INV-2","Pharmacy A, Phnom Penh"\n')
    assert line.reference == "INV-1, INV-2"
    assert line.description == "Pharmacy A, Phnom Penh"


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ('"1,500,000"', "KHR", 1_500_000),
        ('"1,234.50"', "USD", 123_450),
        ('"-1,234.50"', "USD", -123_450),
        ('"+1,000"', "KHR", 1000),
        ("+250", "KHR", 250),
        ("  42.5  ", "USD", 4250),
        ('" 7 "', "KHR", 7),
        ("3", "USD", 300),
    ],
)
def test_thousands_separators_a_leading_plus_and_surrounding_whitespace_are_tolerated(
    amount: str, currency: str, minor: int
) -> None:
    (line,) = parse(HEADER + f"2024-03-01,{amount},{currency},R,D\n")
    assert line.amount_minor == minor


def test_surrounding_whitespace_is_trimmed_from_every_field() -> None:
    (line,) = parse(HEADER + " 2024-03-01 , 100 , khr ,  R-9  ,  Some text  \n")
    assert line == BankLine(2, date(2024, 3, 1), 100, "KHR", "R-9", "Some text")


def test_blank_trailing_lines_are_ignored() -> None:
    lines = parse(HEADER + "2024-03-01,100,KHR,R,D\n\n   \n\r\n")
    assert len(lines) == 1


def test_a_file_without_a_final_newline_is_read() -> None:
    assert len(parse(HEADER + "2024-03-01,100,KHR,R,D")) == 1


def test_a_quoted_field_spanning_lines_keeps_the_line_number_it_starts_on() -> None:
    lines = parse(HEADER + '2024-03-01,1,KHR,R,"two\nlines"\n2024-03-02,2,KHR,S,D\n')
    assert [x.line_number for x in lines] == [2, 4]


def test_exactly_the_maximum_number_of_lines_is_accepted() -> None:
    body = "2024-03-01,1,KHR,R,D\n" * MAX_BANK_LINES
    assert len(parse(HEADER + body)) == MAX_BANK_LINES


# --- parsing: what is refused, and where --------------------------------------------------


def test_the_error_is_a_sentence_naming_the_line() -> None:
    error = refused(HEADER + "2024-03-01,100,KHR,R,D\n2024-13-01,100,KHR,R,D\n")
    assert error.line_number == 3
    assert str(error) == "Line 3 of the bank statement: the date '2024-13-01' does not exist."
    assert isinstance(error, ValueError)


def test_a_malformed_file_is_refused_whole_naming_the_first_bad_line() -> None:
    text = HEADER + "2024-03-01,100,KHR,R,D\n2024-03-02,abc,KHR,R,D\n2024-03-03,1,EUR,R,D\n"
    error = refused(text)
    assert error.line_number == 3
    assert "amount" in error.reason


def test_a_header_missing_a_column_is_refused_on_line_1() -> None:
    error = refused("date,amount,currency,description\n2024-03-01,100,KHR,D\n")
    assert error.line_number == 1
    assert "'reference'" in error.reason


def test_a_header_naming_a_column_twice_is_refused_on_line_1() -> None:
    error = refused("date,amount,amount,currency,reference,description\n")
    assert error.line_number == 1
    assert "twice" in error.reason


@pytest.mark.parametrize(
    "bad", ["01/03/2024", "2024-3-1", "2024-02-30", "", "20240301", "yesterday"]
)
def test_a_bad_date_is_refused(bad: str) -> None:
    error = refused(HEADER + f"{bad},100,KHR,R,D\n")
    assert error.line_number == 2
    assert "date" in error.reason


@pytest.mark.parametrize(
    "bad",
    [
        "abc",
        "",
        "1.2.3",
        '"12,50"',
        '"1,5000"',
        '"15,00.00"',
        "1e3",
        "--5",
        "+-5",
        "(100)",
        "1 000",
        ".5",
        "5.",
    ],
)
def test_a_bad_amount_is_refused(bad: str) -> None:
    error = refused(HEADER + f"2024-03-01,{bad},USD,R,D\n")
    assert error.line_number == 2
    assert "amount" in error.reason


def test_an_unquoted_thousands_separator_splits_the_line_into_too_many_fields() -> None:
    error = refused(HEADER + "2024-03-01,1,500,KHR,R,D\n")
    assert error.line_number == 2
    assert "6 fields" in error.reason


def test_more_decimals_than_the_currency_allows_are_refused() -> None:
    error = refused(HEADER + "2024-03-01,100,KHR,R,D\n2024-03-01,12.345,USD,R,D\n")
    assert error.line_number == 3
    assert "3 decimals" in error.reason and "USD allows 2" in error.reason
    assert refused(HEADER + "2024-03-01,100.5,KHR,R,D\n").line_number == 2


def test_a_zero_amount_is_refused() -> None:
    for zero in ("0", "0.00", "-0", "+0"):
        error = refused(HEADER + f"2024-03-01,{zero},USD,R,D\n")
        assert error.line_number == 2
        assert "zero" in error.reason


def test_an_amount_beyond_the_service_limit_is_refused() -> None:
    error = refused(HEADER + "2024-03-01,10000000000000000,KHR,R,D\n")
    assert error.line_number == 2


def test_an_unknown_currency_is_refused() -> None:
    error = refused(HEADER + "2024-03-01,100,KHR,R,D\n2024-03-01,100,EUR,R,D\n")
    assert error.line_number == 3
    assert "'EUR'" in error.reason


def test_a_line_with_the_wrong_number_of_fields_is_refused() -> None:
    assert refused(HEADER + "2024-03-01,100,KHR,R\n").line_number == 2
    assert refused(HEADER + "2024-03-01,100,KHR,R,D,extra\n").line_number == 2


def test_a_file_that_is_not_utf8_is_refused_naming_the_line() -> None:
    data = (HEADER + "2024-03-01,100,KHR,R,D\n").encode() + b"2024-03-01,100,KHR,R,caf\xe9\n"
    error = refused(data)
    assert error.line_number == 3
    assert "UTF-8" in error.reason


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\n", b"  \r\n"])
def test_an_empty_file_is_refused(data: bytes) -> None:
    error = refused(data)
    assert error.line_number == 1
    assert "empty" in error.reason


def test_a_header_without_bank_lines_is_refused() -> None:
    error = refused(HEADER + "\n\n")
    assert error.line_number == 2
    assert "no bank lines" in error.reason


def test_a_blank_line_between_bank_lines_is_refused() -> None:
    error = refused(HEADER + "2024-03-01,100,KHR,R,D\n\n2024-03-02,100,KHR,R,D\n")
    assert error.line_number == 3
    assert "blank" in error.reason


def test_a_broken_quote_is_refused() -> None:
    assert refused(HEADER + '2024-03-01,100,KHR,"R,D\n').line_number == 2
    assert refused(HEADER + '2024-03-01,100,KHR,"R"x,D\n').line_number == 2


def test_more_than_ten_thousand_bank_lines_are_refused() -> None:
    body = "2024-03-01,1,KHR,R,D\n" * (MAX_BANK_LINES + 1)
    error = refused(HEADER + body)
    assert error.line_number == MAX_BANK_LINES + 2
    assert "10,000" in error.reason


def test_a_bad_line_before_the_limit_is_named_rather_than_the_limit() -> None:
    good = "2024-03-01,1,KHR,R,D\n"
    body = good * 5 + "bad,1,KHR,R,D\n" + good * MAX_BANK_LINES
    assert refused(HEADER + body).line_number == 7


# --- matching -----------------------------------------------------------------------------


def line(
    n: int,
    amount: int,
    reference: str = "",
    description: str = "",
    *,
    currency: str = "KHR",
    day: int = 10,
) -> BankLine:
    return BankLine(n, date(2024, 3, day), amount, currency, reference, description)


def pay(
    pid: int, amount: int, reference: str, *, currency: str = "KHR", day: int = 10
) -> PaymentRef:
    return PaymentRef(pid, date(2024, 3, day), amount, currency, reference)


def test_a_line_matches_a_payment_with_equal_amount_currency_and_reference() -> None:
    assert match_lines([line(2, 5000, "PAY-7")], [pay(7, 5000, "PAY-7")]) == [Match(2, 7)]


def test_an_amount_mismatch_does_not_match() -> None:
    assert match_lines([line(2, 5000, "PAY-7")], [pay(7, 5001, "PAY-7")]) == []


def test_a_sign_mismatch_does_not_match() -> None:
    assert match_lines([line(2, -5000, "PAY-7")], [pay(7, 5000, "PAY-7")]) == []


def test_a_currency_mismatch_does_not_match() -> None:
    assert match_lines([line(2, 5000, "PAY-7", currency="USD")], [pay(7, 5000, "PAY-7")]) == []


def test_a_reference_contained_in_the_description_matches() -> None:
    bank = line(2, 5000, "TRF 99812", "Transfer from Pharmacy A ref pay-7 March")
    assert match_lines([bank], [pay(7, 5000, "PAY-7")]) == [Match(2, 7)]


def test_a_reference_contained_in_the_bank_reference_matches() -> None:
    assert match_lines([line(2, 5000, "ABA/PAY-7/0001")], [pay(7, 5000, "pay-7")]) == [Match(2, 7)]


def test_matching_ignores_case_and_normalises_whitespace() -> None:
    bank = line(2, 5000, "", "Claim   SCHEME\tHEF  2024-03")
    assert match_lines([bank], [pay(7, 5000, " scheme hef 2024-03 ")]) == [Match(2, 7)]


def test_an_unrelated_reference_does_not_match() -> None:
    assert match_lines([line(2, 5000, "PAY-8", "other")], [pay(7, 5000, "PAY-7")]) == []


def test_an_empty_payment_reference_never_matches() -> None:
    assert match_lines([line(2, 5000, "", "")], [pay(7, 5000, "   ")]) == []
    assert match_lines([line(2, 5000, "X", "Y")], [pay(7, 5000, "")]) == []


def test_one_payment_is_never_matched_twice() -> None:
    lines = [line(2, 5000, "PAY-7"), line(3, 5000, "PAY-7")]
    assert match_lines(lines, [pay(7, 5000, "PAY-7")]) == [Match(2, 7)]


def test_one_line_is_never_matched_twice() -> None:
    payments = [pay(7, 5000, "PAY"), pay(8, 5000, "PAY")]
    assert match_lines([line(2, 5000, "PAY")], payments) == [Match(2, 7)]


def test_each_of_two_identical_payments_takes_its_own_line() -> None:
    lines = [line(2, 5000, "PAY"), line(3, 5000, "PAY")]
    payments = [pay(8, 5000, "PAY"), pay(7, 5000, "PAY")]
    assert match_lines(lines, payments) == [Match(2, 7), Match(3, 8)]


def test_exact_reference_equality_is_preferred_over_containment() -> None:
    lines = [line(2, 5000, "PAY-7 and more", day=10), line(3, 5000, "PAY-7", day=20)]
    assert match_lines(lines, [pay(7, 5000, "PAY-7", day=10)]) == [Match(3, 7)]


def test_the_closest_date_is_preferred_when_references_tie() -> None:
    lines = [line(2, 5000, "PAY-7", day=1), line(3, 5000, "PAY-7", day=12)]
    assert match_lines(lines, [pay(7, 5000, "PAY-7", day=10)]) == [Match(3, 7)]


def test_the_closest_date_counts_in_either_direction() -> None:
    lines = [line(2, 5000, "PAY-7", day=7), line(3, 5000, "PAY-7", day=12)]
    assert match_lines(lines, [pay(7, 5000, "PAY-7", day=10)]) == [Match(3, 7)]


def test_the_lowest_payment_id_wins_when_everything_else_ties() -> None:
    payments = [pay(9, 5000, "PAY"), pay(4, 5000, "PAY")]
    assert match_lines([line(2, 5000, "PAY")], payments) == [Match(2, 4)]


def test_the_earliest_line_wins_when_everything_else_ties() -> None:
    lines = [line(5, 5000, "PAY"), line(3, 5000, "PAY")]
    assert match_lines(lines, [pay(7, 5000, "PAY")]) == [Match(3, 7)]


def test_matching_does_not_depend_on_input_order() -> None:
    lines = [line(2, 5000, "PAY", day=3), line(3, 5000, "PAY", day=9), line(4, 700, "X")]
    payments = [pay(1, 5000, "PAY", day=8), pay(2, 5000, "pay", day=2), pay(3, 700, "x")]
    forward = match_lines(lines, payments)
    assert forward == match_lines(lines[::-1], payments[::-1])
    assert forward == [Match(2, 2), Match(3, 1), Match(4, 3)]


def test_parsed_lines_match_payments_end_to_end() -> None:
    lines = parse(
        HEADER
        + '2024-03-05,"1,500,000",KHR,ABA-1,"Pharmacy P1, settlement SET-2024-02"\n'
        + "2024-03-06,-250.00,USD,PAY-OUT-3,Supplier\n"
        + "2024-03-06,99,KHR,,Bank fee\n"
    )
    payments = [
        pay(1, 1_500_000, "SET-2024-02", day=4),
        PaymentRef(2, date(2024, 3, 6), -25_000, "USD", "pay-out-3"),
    ]
    assert match_lines(lines, payments) == [Match(2, 1), Match(3, 2)]


def _every_pair(lines: list[BankLine], payments: list[PaymentRef]) -> list[Match]:
    """match_lines's definition, read literally: every line against every payment."""
    candidates = []
    for p in payments:
        wanted = " ".join(p.reference.split()).casefold()
        if not wanted:
            continue
        for ln in lines:
            ref = " ".join(ln.reference.split()).casefold()
            desc = " ".join(ln.description.split()).casefold()
            if (ln.amount_minor, ln.currency) != (p.amount_minor, p.currency):
                continue
            if wanted in ref or wanted in desc:
                exact = wanted in (ref, desc)
                days = abs((ln.date - p.date).days)
                candidates.append((not exact, days, p.payment_id, ln.line_number))
    used_l: set[int] = set()
    used_p: set[int] = set()
    out = []
    for _e, _d, pid, n in sorted(candidates):
        if pid not in used_p and n not in used_l:
            used_p.add(pid)
            used_l.add(n)
            out.append(Match(n, pid))
    return sorted(out, key=lambda m: m.line_number)


_texts = st.sampled_from(["", "PAY-1", "pay-1", " PAY-1 ", "PAY-12", "PAY", "x PAY-2 y", "Fee"])


@given(
    st.lists(
        st.tuples(
            st.sampled_from([100, -100, 250]),
            st.sampled_from(["KHR", "USD"]),
            _texts,
            _texts,
            st.integers(1, 28),
        ),
        max_size=12,
    ),
    st.lists(
        st.tuples(
            st.sampled_from([100, -100, 250]),
            st.sampled_from(["KHR", "USD"]),
            _texts,
            st.integers(1, 28),
        ),
        max_size=8,
    ),
)
def test_matching_equals_its_definition_over_every_pair(
    raw_lines: list[tuple[int, str, str, str, int]], raw_payments: list[tuple[int, str, str, int]]
) -> None:
    lines = [
        line(n + 2, a, ref, desc, currency=c, day=d)
        for n, (a, c, ref, desc, d) in enumerate(raw_lines)
    ]
    payments = [
        pay(n + 1, a, ref, currency=c, day=d) for n, (a, c, ref, d) in enumerate(raw_payments)
    ]
    assert match_lines(lines, payments) == _every_pair(lines, payments)

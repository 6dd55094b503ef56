"""Contracts use cases: price lists and versions, subsidy schemes, patients and enrolments,
pharmacy contracts, and the quote the dispensing engine prices a dispensing with.

Design note
-----------
* Everything is looked up by the dispensing's ``service_date``, never by today: the contract in
  force, the price-list version in force (latest ``effective_from <= service_date``), the
  patient's enrolment (``valid_from <= service_date <= valid_to``, ``valid_to`` inclusive).
* Several enrolments valid on one day: the scheme with the highest percentage wins, ties broken
  by the scheme code (alphabetical), so the choice is deterministic and favours the patient.
* A contract is "in force" on a day when the day is in ``[valid_from, valid_to]``. A suspended
  contract refuses every quote (409) until resumed; ending a contract cuts its ``valid_to`` to
  the end date (dispensings of earlier service dates, synced late, are still priced) and a
  later service date gets a 409 saying when it ended.
* The monthly subsidy already used comes from a hook: ``register_subsidy_usage(fn)``. The
  dispensing package registers its function once at import (see ``subsidy_used_in_month``).
* Writes only ``flush``; the caller (``run_write``) commits. Bad input raises ``InvalidRequest``
  (422) before anything is written; a rule of the books raises ``Conflict`` (409).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from fractions import Fraction
from typing import Any

from sqlalchemy import bindparam, column, select, table
from sqlalchemy.orm import Session

from contracts.pricing import (
    FeeRule,
    LineRequest,
    PricedDispensing,
    PricingError,
    SchemeTerms,
    price_dispensing,
)
from contracts.refdata import contracts_ref
from contracts.tables import (
    Contract,
    Enrolment,
    Patient,
    PriceList,
    PriceListItem,
    PriceListVersion,
    SchemeMedicine,
    SubsidyScheme,
)
from ledger import clock
from ledger.errors import Conflict, InvalidRequest, NotFound
from ledger.money import AmountError, format_unit_price, parse_amount, parse_unit_price
from ledger.refcache import Snapshot, reference
from ledger.refdata import ledger_ref
from ledger.tables import Account, Commodity

#: The fund's currency: scheme caps and cash rounding are in it, contracts price in it.
FUND_CURRENCY = "KHR"

MIN_DATE = date(2000, 1, 1)
MAX_DATE = date(2099, 12, 31)

_medicines = table("medicines", column("code"))
_pharmacies = table("pharmacies", column("code"))


# --------------------------------------------------------------------------- errors


class NoContractInForce(Conflict):
    """No contract of the pharmacy covers the service date, or it is suspended or ended."""

    slug = "no-contract-in-force"
    title = "No contract in force"


class OverlappingContract(Conflict):
    """A new contract's dates overlap another contract of the same pharmacy."""

    slug = "overlapping-contract"
    title = "The contract overlaps another one"


class DuplicateVersion(Conflict):
    """A price list already has a version with this ``effective_from``."""

    slug = "duplicate-price-list-version"
    title = "A version with this date exists"


class AlreadyExists(Conflict):
    """A code (price list, scheme, member code) is already taken."""

    slug = "already-exists"
    title = "Already exists"


class ContractStateConflict(Conflict):
    """A suspend/resume/end asked of a contract in a state that does not allow it."""

    slug = "contract-state"
    title = "The contract cannot change to this state"


def _invalid(field: str, message: str) -> InvalidRequest:
    return InvalidRequest(f"{field}: {message}", errors={field: [message]})


# --------------------------------------------------------------------------- parsing helpers


def check_date(d: date, field: str) -> None:
    if not MIN_DATE <= d <= MAX_DATE:
        raise _invalid(field, f"must be between {MIN_DATE} and {MAX_DATE}")


def check_range(valid_from: date, valid_to: date | None, prefix: str = "") -> None:
    check_date(valid_from, f"{prefix}valid_from")
    if valid_to is not None:
        check_date(valid_to, f"{prefix}valid_to")
        if valid_to < valid_from:
            raise _invalid(f"{prefix}valid_to", "must not be before valid_from")


def parse_percent(value: object, field: str = "percent") -> int:
    """A percentage 0..100 with up to 2 decimals (string or integer) -> basis points."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise _invalid(field, 'must be a decimal string such as "50" or "12.5", or an integer')
    try:
        bp = parse_amount(value.strip() if isinstance(value, str) else value, 2)
    except AmountError as exc:
        raise _invalid(field, f"{exc} (a percentage has at most 2 decimals)") from exc
    if not 0 <= bp <= 10000:
        raise _invalid(field, "must be between 0 and 100")
    return bp


def format_percent(bp: int) -> str:
    return format(Decimal(bp).scaleb(-2).normalize(), "f")


def parse_money(value: object, field: str, exponent: int, *, positive: bool = False) -> int:
    try:
        minor = parse_amount(value, exponent, allow_negative=False)
    except AmountError as exc:
        raise _invalid(field, str(exc)) from exc
    if positive and minor <= 0:
        raise _invalid(field, "must be greater than 0")
    return minor


def normalise_member_code(text: object, field: str = "member_code") -> str:
    """NFC-normalised member code: 1-40 characters, no control characters."""
    if not isinstance(text, str):
        raise _invalid(field, "must be a string")
    code = unicodedata.normalize("NFC", text)
    if not 1 <= len(code) <= 40:
        raise _invalid(field, "must be 1 to 40 characters")
    if code.strip() != code or not code.strip():
        raise _invalid(field, "must not start or end with white space")
    if any(unicodedata.category(ch) in ("Cc", "Cs", "Co", "Cn") for ch in code):
        raise _invalid(field, "must not contain control or unassigned characters")
    return code


def _exponent(session: Session, currency: str) -> int:
    exp = session.scalar(select(Commodity.exponent).where(Commodity.code == currency))
    if exp is None:  # pragma: no cover - a price list's currency is a foreign key
        raise _invalid("currency", f"unknown currency {currency!r}")
    return int(exp)


def _known_medicines(session: Session, codes: Sequence[str]) -> set[str]:
    found: set[str] = set()
    unique = sorted(set(codes))
    for i in range(0, len(unique), 500):
        chunk = unique[i : i + 500]
        found.update(session.scalars(select(_medicines.c.code).where(_medicines.c.code.in_(chunk))))
    return found


def pharmacy_exists(session: Session, code: str, *, lock: bool = False) -> bool:
    q = select(_pharmacies.c.code).where(_pharmacies.c.code == code)
    if lock:
        q = q.with_for_update()
    return session.scalar(q) is not None


# --------------------------------------------------------------------------- price lists


def create_price_list(session: Session, code: str, currency: str) -> PriceList:
    kind = session.scalar(select(Commodity.kind).where(Commodity.code == currency))
    if kind != "currency":
        raise _invalid("currency", f"{currency!r} is not a currency of this service")
    if session.get(PriceList, code) is not None:
        raise AlreadyExists(f"a price list {code!r} exists already")
    pl = PriceList(code=code, currency=currency, created_at=clock.now())
    session.add(pl)
    session.flush()
    return pl


def get_price_list(session: Session, code: str) -> PriceList:
    pl = session.get(PriceList, code)
    if pl is None:
        raise NotFound(f"no price list {code!r}")
    return pl


def add_price_list_version(
    session: Session,
    code: str,
    effective_from: date,
    items: Sequence[dict[str, Any]],
    *,
    by: str,
) -> PriceListVersion:
    """Add a complete version (every medicine it prices, not a diff) of a price list."""
    pl = session.get(PriceList, code, with_for_update=True)
    if pl is None:
        raise NotFound(f"no price list {code!r}")
    check_date(effective_from, "effective_from")
    if not items:
        raise _invalid("items", "a version prices at least one medicine")
    exp = _exponent(session, pl.currency)
    errors: dict[str, list[str]] = {}
    seen: set[str] = set()
    prices: list[tuple[str, str]] = []
    for i, item in enumerate(items):
        med = item["medicine"]
        if med in seen:
            errors[f"items.{i}.medicine"] = [f"{med} appears twice in this version"]
        seen.add(med)
        try:
            value = parse_unit_price(item["unit_price"], exp)
        except AmountError as exc:
            errors[f"items.{i}.unit_price"] = [str(exc)]
            continue
        prices.append((med, format_unit_price(value, exp)))
    known = _known_medicines(session, [str(it["medicine"]) for it in items])
    for i, item in enumerate(items):
        if item["medicine"] not in known:
            errors.setdefault(f"items.{i}.medicine", []).append(
                f"unknown medicine {item['medicine']!r}"
            )
    if errors:
        first = next(iter(errors.items()))
        raise InvalidRequest(f"{first[0]}: {first[1][0]}", errors=errors)
    clash = session.scalar(
        select(PriceListVersion.id).where(
            PriceListVersion.price_list == code, PriceListVersion.effective_from == effective_from
        )
    )
    if clash is not None:
        raise DuplicateVersion(
            f"price list {code} already has a version effective from {effective_from}"
        )
    version = PriceListVersion(
        price_list=code, effective_from=effective_from, created_at=clock.now(), created_by=by
    )
    session.add(version)
    session.flush()
    session.add_all(
        PriceListItem(version_id=version.id, medicine=med, unit_price=text) for med, text in prices
    )
    session.flush()
    return version


def version_in_force(session: Session, price_list: str, on: date) -> PriceListVersion | None:
    """The version with the latest ``effective_from`` on or before ``on``."""
    return _version_on(contracts_ref(reference(session)).versions.get(price_list, ()), on)


def _version_on(versions: Sequence[PriceListVersion], on: date) -> PriceListVersion | None:
    found = None
    for v in versions:  # by effective date
        if v.effective_from <= on:
            found = v
    return found


def version_items(
    session: Session, version_id: int, medicines: Sequence[str] | None = None
) -> dict[str, str]:
    """Medicine -> unit price text of a version (only ``medicines`` when given)."""
    q = select(PriceListItem.medicine, PriceListItem.unit_price).where(
        PriceListItem.version_id == version_id
    )
    if medicines is not None:
        q = q.where(PriceListItem.medicine.in_(sorted({str(m) for m in medicines})))
    rows = session.execute(q.order_by(PriceListItem.medicine))
    return {str(m): str(p) for m, p in rows}


def price_list_versions(session: Session, code: str) -> list[PriceListVersion]:
    return list(
        session.scalars(
            select(PriceListVersion)
            .where(PriceListVersion.price_list == code)
            .order_by(PriceListVersion.effective_from)
        )
    )


# --------------------------------------------------------------------------- schemes


def create_scheme(session: Session, data: dict[str, Any]) -> SubsidyScheme:
    code: str = data["code"]
    if session.get(SubsidyScheme, code) is not None:
        raise AlreadyExists(f"a subsidy scheme {code!r} exists already")
    exp = _exponent(session, FUND_CURRENCY)
    bp = parse_percent(data["percent"])
    caps: dict[str, int | None] = {}
    for name in ("cap_per_dispensing", "cap_per_patient_month"):
        v = data.get(name)
        caps[name] = None if v is None else parse_money(v, name, exp)
    rounding = data.get("cash_rounding")
    cash_rounding = (
        None if rounding is None else parse_money(rounding, "cash_rounding", exp, positive=True)
    )
    eligible: list[str] | None = data.get("eligible_medicines")
    if eligible is not None:
        known = _known_medicines(session, eligible)
        bad = {
            f"eligible_medicines.{i}": [f"unknown medicine {m!r}"]
            for i, m in enumerate(eligible)
            if m not in known
        }
        if bad:
            raise InvalidRequest(next(iter(bad.values()))[0], errors=bad)
    account_code = None
    if data["payer"] == "external":
        account_code = f"1300-{code}"
        if session.get(Account, account_code) is not None:
            raise AlreadyExists(f"the account {account_code} exists already")
        session.add(
            Account(
                code=account_code,
                parent="1300",
                name=f"Due from subsidy payer: {data['name']}"[:200],
                type="asset",
                carries="money",
                is_header=False,
                is_inventory=False,
                currency=None,
                pharmacy=None,
                created_at=clock.now(),
            )
        )
        session.flush()
    scheme = SubsidyScheme(
        code=code,
        name=data["name"],
        payer=data["payer"],
        percent_bp=bp,
        cap_per_dispensing=caps["cap_per_dispensing"],
        cap_per_patient_month=caps["cap_per_patient_month"],
        cash_rounding=cash_rounding,
        all_eligible=eligible is None,
        account=account_code,
        created_at=clock.now(),
    )
    session.add(scheme)
    session.flush()
    if eligible is not None:
        session.add_all(SchemeMedicine(scheme=code, medicine=m) for m in sorted(set(eligible)))
        session.flush()
    return scheme


def get_scheme(session: Session, code: str) -> SubsidyScheme:
    scheme = session.get(SubsidyScheme, code)
    if scheme is None:
        raise NotFound(f"no subsidy scheme {code!r}")
    return scheme


def scheme_medicines(session: Session, code: str) -> list[str] | None:
    scheme = get_scheme(session, code)
    if scheme.all_eligible:
        return None
    return list(
        session.scalars(
            select(SchemeMedicine.medicine)
            .where(SchemeMedicine.scheme == code)
            .order_by(SchemeMedicine.medicine)
        )
    )


def scheme_terms(session: Session, scheme: SubsidyScheme) -> SchemeTerms:
    eligible = scheme_medicines(session, scheme.code)
    return _terms(scheme, None if eligible is None else frozenset(eligible))


def _terms(scheme: SubsidyScheme, eligible: frozenset[str] | None) -> SchemeTerms:
    return SchemeTerms(
        code=scheme.code,
        payer=scheme.payer,
        percent=Fraction(scheme.percent_bp, 100),
        cap_per_dispensing=scheme.cap_per_dispensing,
        cap_per_patient_month=scheme.cap_per_patient_month,
        eligible_medicines=eligible,
        cash_rounding=scheme.cash_rounding,
    )


# --------------------------------------------------------------------------- patients


def _overlaps(a_from: date, a_to: date | None, b_from: date, b_to: date | None) -> bool:
    return (b_to is None or a_from <= b_to) and (a_to is None or b_from <= a_to)


def _check_enrolments(
    session: Session,
    new: Sequence[dict[str, Any]],
    existing: Sequence[Enrolment],
    prefix: str,
) -> None:
    errors: dict[str, list[str]] = {}
    schemes = {e["scheme"] for e in new}
    known = set(session.scalars(select(SubsidyScheme.code).where(SubsidyScheme.code.in_(schemes))))
    for i, e in enumerate(new):
        field = f"{prefix}{i}" if prefix else ""
        if e["scheme"] not in known:
            errors[f"{field}.scheme".lstrip(".")] = [f"unknown subsidy scheme {e['scheme']!r}"]
        check_range(e["valid_from"], e.get("valid_to"), f"{field}.".lstrip(".") if field else "")
        for ex in existing:
            if ex.scheme == e["scheme"] and _overlaps(
                e["valid_from"], e.get("valid_to"), ex.valid_from, ex.valid_to
            ):
                errors.setdefault(f"{field}.valid_from".lstrip("."), []).append(
                    f"overlaps the enrolment in {ex.scheme} from {ex.valid_from}"
                    f" to {ex.valid_to or 'open end'}"
                )
        for j in range(i):
            o = new[j]
            if o["scheme"] == e["scheme"] and _overlaps(
                e["valid_from"], e.get("valid_to"), o["valid_from"], o.get("valid_to")
            ):
                errors.setdefault(f"{field}.valid_from".lstrip("."), []).append(
                    f"overlaps enrolment {j} in the same scheme"
                )
    if errors:
        first = next(iter(errors.items()))
        raise InvalidRequest(f"{first[0]}: {first[1][0]}", errors=errors)


def create_patient(
    session: Session, member_code: str, enrolments: Sequence[dict[str, Any]]
) -> Patient:
    code = normalise_member_code(member_code)
    _check_enrolments(session, enrolments, [], "enrolments.")
    if session.scalar(select(Patient.id).where(Patient.member_code == code)) is not None:
        raise AlreadyExists(f"a patient with member code {code!r} exists already")
    p = Patient(member_code=code, created_at=clock.now())
    session.add(p)
    session.flush()
    now = clock.now()
    session.add_all(
        Enrolment(
            patient_id=p.id,
            scheme=e["scheme"],
            valid_from=e["valid_from"],
            valid_to=e.get("valid_to"),
            created_at=now,
        )
        for e in enrolments
    )
    session.flush()
    return p


def get_patient(session: Session, member_code: str, *, lock: bool = False) -> Patient:
    try:
        code = normalise_member_code(member_code)
    except InvalidRequest:
        raise NotFound(f"no patient {member_code!r}") from None
    q = select(Patient).where(Patient.member_code == code)
    if lock:
        q = q.with_for_update()
    p = session.scalars(q).first()
    if p is None:
        raise NotFound(f"no patient {code!r}")
    return p


def patient_enrolments(session: Session, patient_id: int) -> list[Enrolment]:
    return list(
        session.scalars(
            select(Enrolment)
            .where(Enrolment.patient_id == patient_id)
            .order_by(Enrolment.valid_from, Enrolment.scheme, Enrolment.id)
        )
    )


def add_enrolment(session: Session, member_code: str, data: dict[str, Any]) -> Patient:
    p = get_patient(session, member_code, lock=True)
    _check_enrolments(session, [data], patient_enrolments(session, p.id), "")
    session.add(
        Enrolment(
            patient_id=p.id,
            scheme=data["scheme"],
            valid_from=data["valid_from"],
            valid_to=data.get("valid_to"),
            created_at=clock.now(),
        )
    )
    session.flush()
    return p


def scheme_on(session: Session, patient: Patient, on: date) -> SubsidyScheme | None:
    """The scheme a patient is enrolled in on ``on``: highest percent, then scheme code."""
    rows = session.execute(
        select(Enrolment.scheme, Enrolment.valid_from, Enrolment.valid_to).where(
            Enrolment.patient_id == patient.id
        )
    ).all()
    return _best_scheme(contracts_ref(reference(session)).schemes, rows, on)


def _best_scheme(
    schemes: Mapping[str, SubsidyScheme],
    enrolments: Sequence[tuple[str | None, date | None, date | None]],
    on: date,
) -> SubsidyScheme | None:
    """Of the schemes enrolled in on ``on`` (scheme, from, to), the highest percent, then code."""
    valid = [
        schemes[code]
        for code, start, end in enrolments
        if code is not None and start is not None and start <= on and (end is None or end >= on)
    ]
    if not valid:
        return None
    return sorted(valid, key=lambda s: (-s.percent_bp, s.code))[0]


# --------------------------------------------------------------------------- contracts


def fee_rule(contract: Contract, exponent: int) -> FeeRule:
    if contract.fee_kind == "percent":
        return FeeRule("percent", Fraction(Decimal(contract.fee_value)))
    return FeeRule(contract.fee_kind, Fraction(int(contract.fee_value)))


def _parse_fee(fee: dict[str, Any], exponent: int) -> str:
    kind, value = fee["kind"], fee["value"]
    if kind == "percent":
        return format_percent(parse_percent(value, "fee.value"))
    return str(parse_money(value, "fee.value", exponent))


def effective_status(contract: Contract, today: date | None = None) -> str:
    """The stored status, or "ended" once the contract's last day is past."""
    t = today or clock.today()
    if contract.status == "active" and contract.valid_to is not None and contract.valid_to < t:
        return "ended"
    return contract.status


def create_contract(session: Session, pharmacy: str, data: dict[str, Any], *, by: str) -> Contract:
    if not pharmacy_exists(session, pharmacy, lock=True):
        raise NotFound(f"no pharmacy {pharmacy!r}")
    check_range(data["valid_from"], data.get("valid_to"))
    model = data["model"]
    lists: dict[str, str | None] = {
        "price_list": data["price_list"],
        "wholesale_price_list": data.get("wholesale_price_list"),
    }
    if model == "purchase" and lists["wholesale_price_list"] is None:
        raise _invalid("wholesale_price_list", "a purchase-model contract needs one")
    if model == "consignment" and lists["wholesale_price_list"] is not None:
        raise _invalid("wholesale_price_list", "only a purchase-model contract has one")
    for field, code in lists.items():
        if code is None:
            continue
        pl = session.get(PriceList, code)
        if pl is None:
            raise _invalid(field, f"unknown price list {code!r}")
        if pl.currency != FUND_CURRENCY:
            raise _invalid(field, f"a contract prices in the fund currency {FUND_CURRENCY}")
    fee_value = _parse_fee(data["fee"], _exponent(session, FUND_CURRENCY))
    for other in session.scalars(select(Contract).where(Contract.pharmacy == pharmacy)):
        if _overlaps(data["valid_from"], data.get("valid_to"), other.valid_from, other.valid_to):
            raise OverlappingContract(
                f"pharmacy {pharmacy} already has contract {other.id} from {other.valid_from}"
                f" to {other.valid_to or 'open end'}, which overlaps these dates"
            )
    c = Contract(
        pharmacy=pharmacy,
        valid_from=data["valid_from"],
        valid_to=data.get("valid_to"),
        model=model,
        price_list=data["price_list"],
        wholesale_price_list=lists["wholesale_price_list"],
        fee_kind=data["fee"]["kind"],
        fee_value=fee_value,
        settlement_cycle=data.get("settlement_cycle") or "monthly",
        status="active",
        created_at=clock.now(),
        created_by=by,
    )
    session.add(c)
    session.flush()
    return c


def get_contract(
    session: Session, pharmacy: str, contract_id: int, *, lock: bool = False
) -> Contract:
    # An id beyond a 64-bit key names nothing (and would overflow the driver).
    in_range = 0 < contract_id < 2**62
    c = session.get(Contract, contract_id, with_for_update=lock) if in_range else None
    if c is None or c.pharmacy != pharmacy:
        raise NotFound(f"no contract {contract_id} of pharmacy {pharmacy!r}")
    return c


def set_contract_status(
    session: Session, pharmacy: str, contract_id: int, action: str, on: date | None = None
) -> Contract:
    """``suspend`` (active -> suspended), ``resume`` (suspended -> active), ``end``."""
    c = get_contract(session, pharmacy, contract_id, lock=True)
    status = effective_status(c)
    if action == "suspend":
        if status != "active":
            raise ContractStateConflict(
                f"contract {c.id} is {status}; only an active one can be suspended"
            )
        c.status = "suspended"
    elif action == "resume":
        if status != "suspended":
            raise ContractStateConflict(f"contract {c.id} is {status}, not suspended")
        c.status = "active"
    elif action == "end":
        if c.status == "ended":
            raise ContractStateConflict(f"contract {c.id} has ended already")
        end = on or clock.today()
        check_date(end, "on")
        if end < c.valid_from:
            raise _invalid("on", f"must not be before the contract's start {c.valid_from}")
        if c.valid_to is None or end < c.valid_to:
            c.valid_to = end
        c.status = "ended"
    else:  # pragma: no cover - the routes name the action
        raise ValueError(action)
    session.flush()
    return c


def contracts_of(session: Session, pharmacy: str) -> list[Contract]:
    return list(
        session.scalars(
            select(Contract).where(Contract.pharmacy == pharmacy).order_by(Contract.valid_from)
        )
    )


def contract_on(session: Session, pharmacy: str, on: date) -> Contract | None:
    return _contract_on(contracts_ref(reference(session)).contracts.get(pharmacy, ()), on)


def _contract_on(contracts: Sequence[Contract], on: date) -> Contract | None:
    """The contract covering ``on`` (contracts of one pharmacy never overlap)."""
    for c in contracts:
        if c.valid_from <= on and (c.valid_to is None or c.valid_to >= on):
            return c
    return None


def _contract_in_force(contracts: Sequence[Contract], pharmacy: str, on: date) -> Contract:
    c = _contract_on(contracts, on)
    if c is None:
        ended = [x for x in contracts if x.valid_to is not None and x.valid_to < on]
        last = max(ended, key=lambda x: x.valid_to or on) if ended else None
        if last is not None and last.status == "ended":
            raise NoContractInForce(
                f"no contract in force: contract {last.id} of pharmacy {pharmacy} was ended"
                f" on {last.valid_to} (service date {on})"
            )
        detail = f"no contract in force for pharmacy {pharmacy} on {on}"
        if last is not None:
            detail += f"; contract {last.id} ended on {last.valid_to}"
        raise NoContractInForce(detail)
    if c.status == "suspended":
        raise NoContractInForce(
            f"contract {c.id} of pharmacy {pharmacy} is suspended; resume it to dispense"
        )
    return c


# --------------------------------------------------------------------------- quote


#: ``fn(session, patient_member_code, scheme_code, "YYYY-MM") -> minor units`` used so far.
SubsidyUsage = Callable[[Session, str, str, str], int]
_subsidy_usage: SubsidyUsage | None = None


def register_subsidy_usage(fn: SubsidyUsage | None) -> None:
    """Register the function that says how much subsidy a patient used in a scheme in a
    calendar month, net of returns (the dispensing package owns the data). Call it once at
    import time of the dispensing package, e.g.
    ``contracts.service.register_subsidy_usage(dispensing.service.subsidy_used_in_month)``.
    ``None`` unregisters (tests)."""
    global _subsidy_usage
    _subsidy_usage = fn


def registered_subsidy_usage() -> SubsidyUsage | None:
    """The function registered with ``register_subsidy_usage`` (tests save and restore it)."""
    return _subsidy_usage


def subsidy_used_in_month(session: Session, patient: str, scheme: str, month: str) -> int:
    """Subsidy (minor units) the patient already received from ``scheme`` in ``month``
    ("YYYY-MM"), net of returns: 0 until a function is registered with
    ``register_subsidy_usage``."""
    if _subsidy_usage is None:
        return 0
    used = int(_subsidy_usage(session, patient, scheme, month))
    return max(used, 0)


@dataclass(frozen=True)
class Quote:
    pharmacy: str
    patient: str | None
    service_date: date
    currency: str
    contract_id: int
    model: str  # consignment | purchase
    scheme: SchemeTerms | None  # None: walk-in / not enrolled that day
    priced: PricedDispensing  # from contracts.pricing.price_dispensing
    fee_rule: FeeRule


#: The patient's member code and enrolments (scheme, from, to); raises 422 if unknown.
Enrolments = tuple[str, list[tuple[str | None, date | None, date | None]]]


@dataclass(frozen=True)
class QuoteTerms:
    """Everything a quote needs but the subsidy the patient already used this month."""

    pharmacy: str
    patient: str | None
    service_date: date
    currency: str
    contract: Contract
    lines: tuple[LineRequest, ...]
    scheme: SchemeTerms | None
    fee_rule: FeeRule

    @property
    def capped(self) -> bool:
        """True when the price depends on the subsidy used in the month (a monthly cap)."""
        return (
            self.scheme is not None
            and self.patient is not None
            and self.scheme.cap_per_patient_month is not None
        )

    @property
    def month(self) -> str:
        return self.service_date.strftime("%Y-%m")

    def priced(self, used: int = 0) -> Quote:
        """The quote, given the subsidy ``used`` this month under a capped scheme."""
        return Quote(
            pharmacy=self.pharmacy,
            patient=self.patient,
            service_date=self.service_date,
            currency=self.currency,
            contract_id=self.contract.id,
            model=self.contract.model,
            scheme=self.scheme,
            priced=price_dispensing(list(self.lines), self.scheme, self.fee_rule, used),
            fee_rule=self.fee_rule,
        )


def quote_dispensing(
    session: Session,
    *,
    pharmacy: str,
    patient: str | None,
    service_date: date,
    items: Sequence[tuple[str, int]],
    ref: Snapshot | None = None,
) -> Quote:
    """Price a dispensing by the facts in force on ``service_date``.

    Contracts, price lists and schemes come from the reference snapshot (``ref``, or the
    one this transaction sees); the patient and the subsidy used are read.

    Raises ``NoContractInForce`` (409) without a usable contract, ``InvalidRequest`` (422)
    for an unknown patient, an empty dispensing, a bad quantity, or a medicine the price-list
    version in force does not price (naming it).
    """
    terms = quote_terms(
        reference(session) if ref is None else ref,
        pharmacy=pharmacy,
        patient=patient,
        service_date=service_date,
        items=items,
        enrolments=lambda code: _patient_enrolments(session, code),
    )
    used = 0
    if terms.capped:
        assert terms.patient is not None and terms.scheme is not None
        used = subsidy_used_in_month(session, terms.patient, terms.scheme.code, terms.month)
    return terms.priced(used)


def quote_terms(
    snapshot: Snapshot,
    *,
    pharmacy: str,
    patient: str | None,
    service_date: date,
    items: Sequence[tuple[str, int]],
    enrolments: Callable[[str], Enrolments],
) -> QuoteTerms:
    """The contract, price-list version, prices and scheme in force for a dispensing, from
    the reference snapshot; ``enrolments(patient)`` gives the patient's enrolments (read
    one at a time by ``quote_dispensing``, all at once by a batch). No database access.

    Raises as ``quote_dispensing``.
    """
    if not items:
        raise _invalid("items", "a dispensing needs at least one line")
    cref = contracts_ref(snapshot)
    contract = _contract_in_force(cref.contracts.get(pharmacy, ()), pharmacy, service_date)
    pl = cref.price_lists[contract.price_list]
    exp = ledger_ref(snapshot).exponents[pl.currency]
    version = _version_on(cref.versions.get(pl.code, ()), service_date)
    if version is None:
        raise NoContractInForce(
            f"price list {pl.code} of contract {contract.id} has no version in force on"
            f" {service_date}"
        )
    prices = cref.items.get(version.id, {})
    errors: dict[str, list[str]] = {}
    lines: list[LineRequest] = []
    for i, (medicine, quantity) in enumerate(items):
        text = prices.get(medicine)
        if text is None:
            errors[f"items.{i}.medicine"] = [
                f"{medicine} is not on price list {pl.code} (version effective from"
                f" {version.effective_from})"
            ]
            continue
        try:
            lines.append(LineRequest(medicine, quantity, parse_unit_price(text, exp)))
        except PricingError as exc:
            errors[f"items.{i}.quantity"] = [str(exc)]
    if errors:
        first = next(iter(errors.items()))
        raise InvalidRequest(first[1][0], errors=errors)
    terms: SchemeTerms | None = None
    member: str | None = None
    if patient is not None:
        member, enrolled = enrolments(patient)
        scheme = _best_scheme(cref.schemes, enrolled, service_date)
        if scheme is not None:
            terms = _terms(scheme, cref.scheme_medicines.get(scheme.code))
    return QuoteTerms(
        pharmacy,
        member,
        service_date,
        pl.currency,
        contract,
        tuple(lines),
        terms,
        fee_rule(contract, exp),
    )


_PATIENT_ENROLMENTS = (
    select(Enrolment.scheme, Enrolment.valid_from, Enrolment.valid_to)
    .select_from(Patient)
    .outerjoin(Enrolment, Enrolment.patient_id == Patient.id)
    .where(Patient.member_code == bindparam("code"))
)


def _patient_enrolments(
    session: Session, patient: str
) -> tuple[str, list[tuple[str | None, date | None, date | None]]]:
    """The patient's member code and enrolments (scheme, from, to), in one query; an unknown
    patient is a 422."""
    try:
        code = normalise_member_code(patient)
    except InvalidRequest:
        raise _invalid("patient", f"unknown patient {patient!r}") from None
    rows = session.execute(_PATIENT_ENROLMENTS, {"code": code}).all()
    if not rows:
        raise _invalid("patient", f"unknown patient {patient!r}")
    return code, [(s, f, t) for s, f, t in rows]


_ENROLMENTS_OF = (
    select(Patient.member_code, Enrolment.scheme, Enrolment.valid_from, Enrolment.valid_to)
    .select_from(Patient)
    .outerjoin(Enrolment, Enrolment.patient_id == Patient.id)
    .where(Patient.member_code.in_(bindparam("codes", expanding=True)))
)


def enrolments_of(session: Session, patients: Sequence[str]) -> Callable[[str], Enrolments]:
    """``_patient_enrolments`` for many patients in one query: the lookup ``quote_terms``
    takes, raising the same 422 for an unknown patient."""
    codes: dict[str, str | None] = {}
    for p in patients:
        try:
            codes[p] = normalise_member_code(p)
        except InvalidRequest:
            codes[p] = None
    found: dict[str, list[tuple[str | None, date | None, date | None]]] = {}
    wanted = sorted({c for c in codes.values() if c is not None})
    if wanted:
        for code, scheme, start, end in session.execute(_ENROLMENTS_OF, {"codes": wanted}):
            found.setdefault(code, []).append((scheme, start, end))

    def lookup(patient: str) -> Enrolments:
        code = codes.get(patient)
        if code is None or code not in found:
            raise _invalid("patient", f"unknown patient {patient!r}")
        return code, found[code]

    return lookup


def wholesale_price(session: Session, pharmacy: str, medicine: str, on: date) -> Fraction | None:
    """The wholesale unit price (minor units, exact) at which a purchase-model pharmacy buys
    ``medicine`` on ``on``: from the wholesale list's version in force that day. None when the
    pharmacy has no contract that day, its contract is consignment, no version is in force, or
    the version does not price the medicine (the caller decides whether that is an error)."""
    snapshot = reference(session)
    cref = contracts_ref(snapshot)
    c = _contract_on(cref.contracts.get(pharmacy, ()), on)
    if c is None or c.model != "purchase" or c.wholesale_price_list is None:
        return None
    pl = cref.price_lists[c.wholesale_price_list]
    version = _version_on(cref.versions.get(pl.code, ()), on)
    text = None if version is None else cref.items.get(version.id, {}).get(medicine)
    if text is None:
        return None
    return parse_unit_price(text, ledger_ref(snapshot).exponents[pl.currency])


def contract_model_on(session: Session, pharmacy: str, on: date) -> str | None:
    """ "consignment" or "purchase": the model of the pharmacy's contract covering ``on``
    (suspended or not), or None without one. For stock's ``transfer_kind`` hook: a transfer to
    a purchase-model pharmacy is a sale at ``wholesale_price``."""
    c = contract_on(session, pharmacy, on)
    return None if c is None else c.model

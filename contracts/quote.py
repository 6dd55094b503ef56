"""The quote the dispensing engine prices a dispensing with: the facts in force on the
service date (contract, price-list version, prices, the patient's scheme), priced by the pure
``contracts.pricing.price_dispensing``.

The monthly subsidy already used is the caller's to say (``quote_dispensing``'s
``subsidy_used``, or ``QuoteTerms.priced(used)``): the dispensing package owns that data.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date

from sqlalchemy.orm import Session

from contracts.agreements import contract_in_force, fee_rule
from contracts.errors import NoContractInForce, invalid
from contracts.patients import Enrolments, best_scheme, patient_enrolments_of
from contracts.pricelists import version_on
from contracts.pricing import (
    FeeRule,
    LineRequest,
    PricedDispensing,
    PricingError,
    SchemeTerms,
    price_dispensing,
)
from contracts.refdata import contracts_ref
from contracts.schemes import terms_of
from contracts.tables import Contract
from ledger.errors import InvalidRequest
from ledger.money import parse_unit_price
from ledger.refcache import Snapshot, reference
from ledger.refdata import ledger_ref
from stock.refdata import unknown_medicine

#: ``fn(session, patient_member_code, scheme_code, "YYYY-MM") -> minor units`` of subsidy the
#: patient already received from the scheme in that calendar month, net of returns (the
#: dispensing package owns that data and passes its function in).
SubsidyUsage = Callable[[Session, str, str, str], int]


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
    subsidy_used: SubsidyUsage | None = None,
) -> Quote:
    """Price a dispensing by the facts in force on ``service_date``.

    Contracts, price lists and schemes come from the reference snapshot (``ref``, or the
    one this transaction sees); the patient is read. Under a scheme capped per patient and
    month, ``subsidy_used`` says what the patient already used that month (none without it).

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
        enrolments=lambda code: patient_enrolments_of(session, code),
    )
    used = 0
    if terms.capped and subsidy_used is not None:
        assert terms.patient is not None and terms.scheme is not None
        used = max(int(subsidy_used(session, terms.patient, terms.scheme.code, terms.month)), 0)
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
        raise invalid("items", "a dispensing needs at least one line")
    cref = contracts_ref(snapshot)
    contract = contract_in_force(cref.contracts.get(pharmacy, ()), pharmacy, service_date)
    pl = cref.price_lists[contract.price_list]
    exp = ledger_ref(snapshot).exponents[pl.currency]
    version = version_on(cref.versions.get(pl.code, ()), service_date)
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
            known = ledger_ref(snapshot).commodities.get(medicine)
            errors[f"items.{i}.medicine"] = [
                unknown_medicine(medicine)
                if known is None or known.kind != "medicine"
                else f"{medicine} is not on price list {pl.code} (version effective from"
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
        scheme = best_scheme(cref.schemes, enrolled, service_date)
        if scheme is not None:
            terms = terms_of(scheme, cref.scheme_medicines.get(scheme.code))
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

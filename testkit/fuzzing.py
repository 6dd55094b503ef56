"""A bounded schemathesis run against the app's own OpenAPI document, in process (WSGI).

Shared by ``tests/audit/test_fuzz.py`` (a few examples per operation, in the test suite) and
``bench/fuzz_deep.py`` (many). Each operation is driven with each given token, with data
that fits the schema (positive) and data that does not (negative); every answer must not be
a 5xx and, when its status is documented, must match the documented schema.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import schemathesis
from flask import Flask
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.core.result import Err
from schemathesis.generation import GenerationMode


@dataclass
class FuzzReport:
    operations: int = 0
    requests: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    #: one line per (caller, operation, kind of failure)
    failures: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    #: the first request seen per (caller, status), to tell what answered what
    examples: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return " | ".join(lines[:3])[:400]


def run_fuzz(
    app: Flask,
    tokens: Mapping[str, str],
    *,
    max_examples: int = 10,
    negative_examples: int = 3,
    budget_s: float | None = None,
    modes: tuple[GenerationMode, ...] = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE),
    seed: int | None = 0,
) -> FuzzReport:
    """Fuzz every operation of ``/api/v1/openapi.json`` as each caller in ``tokens``."""
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    report = FuzzReport()
    started = time.monotonic()
    seen: set[str] = set()
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        op = result.ok()
        report.operations += 1
        label = f"{op.method.upper()} {op.path}"
        for who, token in tokens.items():
            if not admitted(app, token, op.method, op.path):
                continue  # answered 403 before anything is parsed (the matrix test proves it)
            for mode in modes:
                n = max_examples if mode is GenerationMode.POSITIVE else negative_examples
                if budget_s is not None and time.monotonic() - started > budget_s:
                    report.skipped.append(f"{who} {label} {mode.value}")
                    continue
                _fuzz_operation(op, label, who, token, mode, n, seed, report, seen)
    report.seconds = time.monotonic() - started
    return report


def admitted(app: Flask, token: str, method: str, path: str) -> bool:
    """Whether the policy (``@access``) lets this token's role call the operation."""
    from api.access import access_for
    from api.auth import authenticate

    with app.extensions["rdf_db"].session() as s:
        who = authenticate(s, token)
    if who is None:
        return True
    concrete = re.sub(r"\{[^}]+\}", "x", path)
    try:
        endpoint, _args = app.url_map.bind("localhost").match(concrete, method=method.upper())
    except Exception:  # noqa: BLE001 - not routable: let the fuzzer see what happens
        return True
    rule = access_for(app, str(endpoint), method.upper())
    return rule is None or rule.public or rule.admits(who)


def _fuzz_operation(
    op: APIOperation[Any, Any, Any, Any],
    label: str,
    who: str,
    token: str,
    mode: GenerationMode,
    max_examples: int,
    seed: int | None,
    report: FuzzReport,
    seen: set[str],
) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    checks = [not_a_server_error, response_schema_conformance]

    @given(case=op.as_strategy(generation_mode=mode))
    @settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=seed is not None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def one(case: schemathesis.Case[APIOperation[Any, Any, Any, Any]]) -> None:
        response = case.call(headers=headers)
        report.requests += 1
        report.statuses[response.status_code] = report.statuses.get(response.status_code, 0) + 1
        report.examples.setdefault(f"{who} {response.status_code}", label)
        try:
            case.validate_response(response, checks=checks, headers=headers)
        except (Exception, BaseExceptionGroup) as exc:  # noqa: BLE001 - collected, reported
            kind = "5xx" if response.status_code >= 500 else "schema"
            key = f"{who} {label} {kind}"
            if key not in seen:
                seen.add(key)
                report.failures.append(
                    f"{key} [{mode.value}] status {response.status_code}: {_first_line(exc)}"
                )

    one()

"""CPU per validation of a `POST /dispensings` body: the edge's marshmallow schema against
the alternatives, in-process (no database):

    .venv/bin/python bench/validate_dispensing.py [--n 20000]

* ``marshmallow``: ``api.schemas.dispensing.DispensingIn().load`` (what the endpoint runs);
* ``webargs``: the same through the endpoint's parser (``flask_smorest``/webargs: the JSON
  body read from the request, the schema loaded, in a request context);
* ``pydantic``: a pydantic v2 model with the same rules (strict integers, lengths, ISO
  date, unknown fields forbidden), ``model_validate`` of the parsed JSON;
* ``pydantic-json``: the same model, ``model_validate_json`` of the raw bytes (parse and
  validate in Rust);
* ``json.loads``: the floor every way pays (parsing the body).

A good body of two lines (one with ``days_supply``) and a bad one (an unknown field and a
quantity given as a string: both ways refuse it). Prints µs of CPU per call.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Annotated, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from common import header  # noqa: E402

GOOD: dict[str, Any] = {
    "pharmacy": "P07",
    "patient": "PT-00123",
    "service_date": "2026-11-20",
    "client_ref": "0f1e2d3c4b5a69788796a5b4c3d2e1f0",
    "items": [
        {"medicine": "MET500", "quantity": 10},
        {"medicine": "AML5", "quantity": 30, "days_supply": 30},
    ],
}
BAD: dict[str, Any] = {
    **GOOD,
    "clientRef": "x",
    "items": [{"medicine": "MET500", "quantity": "10"}],
}


def cpu_us(fn: Callable[[], Any], n: int) -> float:
    for _ in range(min(n // 10, 500)):
        fn()
    best = float("inf")
    for _ in range(3):  # best of three: the figure least blurred by a busy machine
        t0 = time.process_time()
        for _ in range(n):
            fn()
        best = min(best, time.process_time() - t0)
    return best / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=20000)
    args = ap.parse_args()
    header("validation of a POST /dispensings body, CPU per call")

    from flask_smorest.arguments import ArgumentsMixin
    from marshmallow import ValidationError
    from pydantic import BaseModel, ConfigDict, Field, StrictInt
    from pydantic import ValidationError as PydanticError

    from api.schemas.dispensing import DispensingIn
    from app import create_app

    class Item(BaseModel):
        model_config = ConfigDict(extra="forbid")
        medicine: Annotated[str, Field(min_length=1, max_length=24)]
        quantity: Annotated[StrictInt, Field(ge=1, le=10**12)]
        days_supply: Annotated[StrictInt, Field(ge=1, le=365)] | None = None

    class Dispensing(BaseModel):
        model_config = ConfigDict(extra="forbid")
        pharmacy: Annotated[str, Field(min_length=1, max_length=24)]
        patient: Annotated[str, Field(min_length=1, max_length=40)] | None = None
        service_date: date
        client_ref: Annotated[str, Field(min_length=1, max_length=120)] | None = None
        items: Annotated[list[Item], Field(min_length=1, max_length=100)]

    schema = DispensingIn()
    raw = json.dumps(GOOD).encode()
    app = create_app({"DATABASE_URL": "sqlite://", "SECRET_KEY": "bench"})
    webargs_parser = ArgumentsMixin.ARGUMENTS_PARSER

    def via_webargs() -> None:
        with app.test_request_context(
            "/api/v1/dispensings", method="POST", data=raw, content_type="application/json"
        ):
            webargs_parser.parse(schema, location="json")

    for label, body in (("good body", GOOD), ("bad body", BAD)):
        braw = json.dumps(body).encode()

        def mm(b: dict[str, Any] = body) -> None:
            try:
                schema.load(b)
            except ValidationError:
                pass

        def pd(b: dict[str, Any] = body) -> None:
            try:
                Dispensing.model_validate(b)
            except PydanticError:
                pass

        def pdj(b: bytes = braw) -> None:
            try:
                Dispensing.model_validate_json(b)
            except PydanticError:
                pass

        print(f"-- {label}")

        def parse(b: bytes = braw) -> None:
            json.loads(b)

        print(f"   json.loads        {cpu_us(parse, args.n):7.1f} µs")
        print(f"   marshmallow load  {cpu_us(mm, args.n):7.1f} µs")
        print(f"   pydantic          {cpu_us(pd, args.n):7.1f} µs (after json.loads)")
        print(f"   pydantic-json     {cpu_us(pdj, args.n):7.1f} µs (parse and validate)")
    print(
        f"-- webargs parse (request context + body + load) {cpu_us(via_webargs, args.n // 4):7.1f} µs"
    )

    def context_only() -> None:
        with app.test_request_context(
            "/api/v1/dispensings", method="POST", data=raw, content_type="application/json"
        ):
            pass

    ctx_only = cpu_us(context_only, args.n // 4)
    print(f"   of which the test request context alone   {ctx_only:7.1f} µs")


if __name__ == "__main__":
    main()

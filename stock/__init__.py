"""Stock of the revolving drug fund: medicines, suppliers, pharmacies (places), lots, and the
movements of stock between them — receipts, transfers, write-offs, counts — each posted as one
journal entry through ``ledger.posting.post_entry``.

Stock is never stored apart from the books: the units and value of a lot at a place are the
kept balances of ``1400-{location}`` in the medicine and in the fund currency for that lot.

* ``model.py`` — pure rules: FEFO picking, the lot value rule, count gains (no Flask/SQL).
* ``service.py`` — use cases with a Session; ``take_stock`` is the one way stock leaves a
  place by FEFO (also used by ``dispensing``); ``transfer_kind`` is the hook for contracts.
* ``api.py`` / ``schemas.py`` — the HTTP edge; ``tables.py`` — reference rows and stock
  documents (migration 0002); ``demo.py`` — the demo fund's stock.
"""

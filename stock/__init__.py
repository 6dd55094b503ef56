"""Stock of the revolving drug fund: medicines, suppliers, pharmacies (places), lots, and the
movements of stock between them — receipts, transfers, write-offs, counts — each posted as one
journal entry through ``ledger.posting.post_entry``.

Stock is never stored apart from the books: the units and value of a lot at a place are the
kept balances of the place's inventory account in the medicine and in the fund currency for that lot.

* ``model.py`` — pure rules: FEFO picking, the lot value rule, count gains (no Flask/SQL).
* ``commands.py`` — the typed commands the edge builds (and ``SaleTerms``, the purchase-model
  prices a transfer is given by its caller: stock never imports contracts).
* ``refdata.py`` — medicines, suppliers, pharmacies and their accounts; the checks of a place,
  a medicine or a supplier.
* ``lots.py`` — what is left of each lot at a place, locked and picked FEFO: ``take_stock`` for
  one line, ``lock_lot_positions`` + ``pick_lines`` for a batch (``dispensing``).
* ``movements.py`` — receipts, transfers (sales to purchase-model pharmacies), write-offs and
  counts, each one journal entry.
* ``queries.py`` — stock on hand, expiring lots, stock cards.
* ``tables.py`` — reference rows and stock documents (migration 0002). The HTTP edge is
  ``api/stock.py``; the demo fund's stock ``demo/stock.py``.
"""

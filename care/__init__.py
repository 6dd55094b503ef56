"""Care: what the dispensing record says about patients (DESIGN.md "Care").

Peer educators and the patients they look after (``care.tables``, ``care.service``), the
pure arithmetic of adherence and overdue refills (``care.pdc``), and the dispensings and
subsidy claims as FHIR R4 resources (``care.fhir``). In the layer of ``dispensing``: it
imports ledger, stock and contracts, and reads the dispensing tables without importing
the dispensing package.
"""

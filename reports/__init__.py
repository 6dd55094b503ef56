"""Reports as data: tabular model (CSV/XLSX), ledger report builders, exports, documents API."""

"""Support shared by the test suite (``tests/``) and the benchmarks (``bench/``): an app
for a database, users and tokens, a pharmacy, and the bounded schemathesis run.

``bench/`` never imports ``tests/`` (tests/unit/test_bench_independent.py holds it); what
both need lives here. Helpers only the tests need live in ``tests/support.py``.
"""

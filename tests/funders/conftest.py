"""The funders' tests run on the worked example's fund (``tests/dispensing/conftest.py``):
1,000 MET500 lot L1 bought for 35,000 KHR, 400 of them at P1, priced 50 KHR, HEF at 50 %."""

from tests.dispensing.conftest import (  # noqa: F401 - fixtures
    Fund,
    fresh_fund,
    pg_fund,
    pg_fund_template,
    pg_fund_url,
    sqlite_fund_template,
)

"""The pages under ``/app``: server-rendered (Jinja), in Khmer and English, with a little
JavaScript where a page must work offline (the dispensing outbox) or update without a
reload (the quote). The edge of the system: it calls the domain packages' read functions
and the JSON API, authorises with the same policy (``api.access``), and holds no rule of
the books. Nothing imports it but ``app.py``."""

from __future__ import annotations

from flask import Flask

from web import admin, audit, currency, finance, forms, jobs
from web.i18n import init_i18n
from web.views import bp, root, security_headers


def init_web(app: Flask) -> None:
    """Register the pages, their translations and their security headers on ``app``."""
    init_i18n(app)
    app.register_blueprint(bp)
    app.register_blueprint(root)
    for desk in (finance.bp, forms.bp, currency.bp, audit.bp, admin.bp, jobs.bp):
        app.register_blueprint(desk)
    app.after_request(security_headers)

"""Khmer and English: the chosen language (``?lang=km|en`` on any page, remembered in a
cookie), the translations (Flask-Babel, catalogue ``web/translations``), and amounts
written as people read them (``1,500 ៛``, ``12.50 $``)."""

from __future__ import annotations

from pathlib import Path

from flask import Flask, Response, request
from flask_babel import Babel, get_locale

LANGUAGES = ("en", "km")
DEFAULT_LANGUAGE = "en"
LANG_COOKIE = "rdf_lang"
TRANSLATIONS = Path(__file__).resolve().parent / "translations"
SYMBOLS = {"KHR": "៛", "USD": "$"}


def chosen_language() -> str:
    """``?lang=`` when given, else the remembered choice, else English."""
    asked = request.args.get("lang")
    if asked in LANGUAGES:
        return asked
    kept = request.cookies.get(LANG_COOKIE)
    return kept if kept in LANGUAGES else DEFAULT_LANGUAGE


def remember_language(response: Response) -> Response:
    """``after_request``: a ``?lang=`` choice is kept for a year."""
    asked = request.args.get("lang")
    if asked in LANGUAGES and request.cookies.get(LANG_COOKIE) != asked:
        response.set_cookie(
            LANG_COOKIE, asked, max_age=365 * 24 * 3600, samesite="Lax", httponly=True
        )
    return response


def money(amount: object, currency: str) -> str:
    """``"1500", "KHR"`` → ``1,500 ៛``; ``"12.5", "USD"`` → ``12.50 $`` (digits grouped by
    thousands, the currency's decimals kept as given)."""
    text = str(amount)
    sign = "-" if text.startswith("-") else ""
    whole, _, frac = text.lstrip("-").partition(".")
    grouped = f"{int(whole or '0'):,}"
    if currency == "USD":
        frac = (frac + "00")[:2]
    number = f"{sign}{grouped}.{frac}" if frac else f"{sign}{grouped}"
    return f"{number} {SYMBOLS.get(currency, currency)}"


def init_i18n(app: Flask) -> None:
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LANGUAGE)
    Babel(app, locale_selector=chosen_language)
    app.after_request(remember_language)
    app.jinja_env.filters["money"] = money
    app.jinja_env.globals["get_locale"] = get_locale

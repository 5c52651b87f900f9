"""The locales a contract can be written in, and what the rest of the system makes of them.

A contract's ``locale`` is ``"zh-CN"``, ``"en"`` or ``"zh-CN+en"``: one document in both languages,
side by side, clause by clause, with a clause saying which text prevails (``prevailing_language``,
the Chinese text unless the contract says ``"en"``).

Everything that speaks to people in one language (emails, reminders, signing and approval pages,
CRM write-back labels, date formats, the working-day calendar) uses ``primary_locale``: the
prevailing language of a bilingual contract, else the locale itself; anything unknown gets English,
as before. Pure Python, no imports beyond the standard library.
"""

from __future__ import annotations

from typing import Any, Literal, cast

Language = Literal["zh-CN", "en"]
LocaleName = Literal["zh-CN", "en", "zh-CN+en"]

LANGUAGES: tuple[Language, ...] = ("zh-CN", "en")
BILINGUAL = "zh-CN+en"
CONTRACT_LOCALES: tuple[LocaleName, ...] = ("zh-CN", "en", "zh-CN+en")
# The text that prevails when a bilingual contract does not say.
DEFAULT_PREVAILING_LANGUAGE: Language = "zh-CN"
FALLBACK_LANGUAGE: Language = "en"


def is_bilingual(locale: object) -> bool:
    """True for ``"zh-CN+en"``."""
    return locale == BILINGUAL


def languages_of(locale: object) -> tuple[Language, ...]:
    """The languages of a document in ``locale``, in column order: ``"zh-CN+en"`` -> ``("zh-CN", "en")``;
    ``()`` for anything that is not a contract locale."""
    if locale == BILINGUAL:
        return LANGUAGES
    if locale in LANGUAGES:
        return (locale,)
    return ()


def prevailing_language(document: Any) -> Language:
    """The language whose text prevails in a contract (the canonical dict or a Contract).

    A single-language contract's own language; a bilingual one's ``prevailing_language``, else
    Chinese; English for anything unrecognisable (never raises).
    """
    locale = _get(document, "locale")
    if locale in LANGUAGES:
        return cast(Language, locale)
    if locale == BILINGUAL:
        chosen = _get(document, "prevailing_language")
        return cast(Language, chosen) if chosen in LANGUAGES else DEFAULT_PREVAILING_LANGUAGE
    return FALLBACK_LANGUAGE


def primary_locale(locale: object, prevailing: object = None) -> Language:
    """The one language to speak to people about a contract in ``locale``.

    ``"zh-CN"`` and ``"en"`` are themselves; ``"zh-CN+en"`` is ``prevailing`` (the contract's
    ``prevailing_language``) when that is a language, else Chinese; anything else is English.
    """
    if locale in LANGUAGES:
        return locale
    if locale == BILINGUAL:
        return prevailing if prevailing in LANGUAGES else DEFAULT_PREVAILING_LANGUAGE
    return FALLBACK_LANGUAGE


def primary_locale_of(record: Any) -> Language:
    """``primary_locale`` of a stored contract (anything with ``locale`` and ``document``)."""
    document = getattr(record, "document", None)
    prevailing = document.get("prevailing_language") if isinstance(document, dict) else None
    return primary_locale(getattr(record, "locale", None), prevailing)


def _get(document: Any, key: str) -> Any:
    if isinstance(document, dict):
        return document.get(key)
    return getattr(document, key, None)

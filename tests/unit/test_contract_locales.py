"""Bilingual contracts (locale "zh-CN+en"): what validation accepts, and the one language the rest of
the system speaks about them (the prevailing one, Chinese unless the contract says English)."""

import json
from pathlib import Path
from types import SimpleNamespace

import pytest

from chalicelib.contracts import ContractInvalid, parse_webhook_body, primary_locale
from chalicelib.contracts.locales import languages_of, prevailing_language, primary_locale_of
from chalicelib.contracts.workdays import calendar_for_locale

SAMPLES = Path(__file__).resolve().parents[2] / "devstack" / "samples"


def sales(**changes: object) -> dict:
    body = json.loads((SAMPLES / "sales.json").read_text(encoding="utf-8"))
    body["contract"].update(changes)
    return body


def problems(body: dict) -> dict[str, str]:
    with pytest.raises(ContractInvalid) as info:
        parse_webhook_body(body)
    return {d.path: d.message for d in info.value.details}


def test_a_bilingual_contract_is_valid_and_prevails_in_chinese_by_default() -> None:
    contract = parse_webhook_body(sales(locale="zh-CN+en")).contract
    assert contract.locale == "zh-CN+en"
    assert contract.prevailing_language is None
    assert prevailing_language(contract) == "zh-CN"


@pytest.mark.parametrize("language", ["zh-CN", "en"])
def test_a_bilingual_contract_may_choose_the_prevailing_text(language: str) -> None:
    contract = parse_webhook_body(sales(locale="zh-CN+en", prevailing_language=language)).contract
    assert contract.prevailing_language == language
    assert prevailing_language(contract) == language
    assert contract.model_dump(mode="json")["prevailing_language"] == language


def test_a_single_language_contract_prevails_in_its_own_language() -> None:
    assert parse_webhook_body(sales(locale="zh-CN", prevailing_language="zh-CN")).contract.locale == "zh-CN"
    assert problems(sales(locale="en", prevailing_language="zh-CN")) == {
        "contract.prevailing_language": "a contract in en has only the en text; only a bilingual contract "
        "(locale zh-CN+en) can name zh-CN as the prevailing language"
    }


def test_other_language_pairs_are_refused_by_name() -> None:
    assert problems(sales(locale="zh-CN+ja")) == {
        "contract.locale": "must be one of 'zh-CN', 'en' or 'zh-CN+en', not the string 'zh-CN+ja'"
    }


@pytest.mark.parametrize(
    ("locale", "prevailing", "expected"),
    [
        ("zh-CN", None, "zh-CN"),
        ("en", None, "en"),
        ("en", "zh-CN", "en"),  # a single-language contract speaks its language
        ("zh-CN+en", None, "zh-CN"),
        ("zh-CN+en", "en", "en"),
        ("zh-CN+en", "fr", "zh-CN"),
        ("fr", None, "en"),  # unknown: English, as before
        (None, None, "en"),
    ],
)
def test_primary_locale(locale: object, prevailing: object, expected: str) -> None:
    assert primary_locale(locale, prevailing) == expected


def test_primary_locale_of_a_stored_record_reads_its_prevailing_language() -> None:
    record = SimpleNamespace(locale="zh-CN+en", document={"prevailing_language": "en"})
    assert primary_locale_of(record) == "en"
    assert primary_locale_of(SimpleNamespace(locale="zh-CN+en", document={})) == "zh-CN"
    assert primary_locale_of(SimpleNamespace(locale="zh-CN+en", document=None)) == "zh-CN"


def test_languages_of() -> None:
    assert languages_of("zh-CN+en") == ("zh-CN", "en")
    assert languages_of("en") == ("en",)
    assert languages_of("de") == ()


def test_a_bilingual_contract_counts_working_days_on_the_chinese_calendar() -> None:
    assert calendar_for_locale("zh-CN+en").country == "CN"
    assert calendar_for_locale("en").country is None

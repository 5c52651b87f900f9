"""`GET /v1/esign/docusign/consent`: where DocuSign sends the user back from the consent screen of
the integration key. It is the consent URL's redirect URI (`chalicelib.esign.auth.consent_redirect_uri`),
which must be registered on the integration key.

We ask for consent only so that the JWT grant works from then on: the authorization code DocuSign adds
(`?code=`) is never exchanged, logged or shown. A refusal (`?error=…&error_description=…`) shows
DocuSign's words, cut short and cleaned of control characters, and escaped by the template. Whatever
the query, the answer is a 200 page: it only tells a person what happened.
"""

from __future__ import annotations

from collections.abc import Mapping

from chalicelib.rendering.environment import get_environment
from chalicelib.web.signing import Page

# DocuSign's codes are a word (access_denied) and its descriptions a sentence: anything longer is not
# theirs, and is cut rather than echoed whole.
MAX_ERROR_CHARS = 64
MAX_DESCRIPTION_CHARS = 300


def consent_page(query: Mapping[str, str], accept_language: str | None) -> Page:
    locale = "zh-CN" if (accept_language or "").strip().lower().startswith("zh") else "en"
    if "error" in query:
        outcome = "refused"
        error = _shown(query.get("error"), MAX_ERROR_CHARS)
        description = _shown(query.get("error_description"), MAX_DESCRIPTION_CHARS)
        detail = ": ".join(part for part in (error, description) if part)
    elif query.get("code"):
        outcome, detail = "granted", ""
    else:
        outcome, detail = "unknown", ""
    html = get_environment().get_template(f"pages/consent.{locale}.html.j2").render(outcome=outcome, detail=detail)
    return Page(200, html=html)


def _shown(value: object, limit: int) -> str:
    """Text fit to show: printable characters only (no line breaks or bidi overrides), one line, bounded."""
    if not isinstance(value, str):
        return ""
    text = " ".join("".join(ch if ch.isprintable() else " " for ch in value).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

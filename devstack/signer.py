"""Signing on the sandbox the way a person would, over HTTP only: an email signer through the link
DocuSign would have emailed, an embedded signer through signbridge's stable signing link."""

from __future__ import annotations

import urllib.error
import urllib.parse
import urllib.request
from typing import Any

from devstack.stack import http_json


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def request_no_redirect(url: str, data: dict[str, str] | None = None) -> tuple[int, str | None]:
    body = urllib.parse.urlencode(data).encode() if data is not None else None
    try:
        with _opener.open(urllib.request.Request(url, data=body, method="POST" if body else "GET"),
                          timeout=30) as response:
            return response.status, response.headers.get("Location")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location")


def request_with_auth_no_redirect(url: str, api_key: str) -> tuple[int, str | None]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {api_key}"})
    try:
        with _opener.open(request, timeout=30) as response:
            return response.status, response.headers.get("Location")
    except urllib.error.HTTPError as err:
        return err.code, err.headers.get("Location")


def signing_url(api_url: str, api_key: str, sandbox_url: str, contract: dict[str, Any], position: int) -> str:
    signer = contract["signers"][position - 1]
    if signer["delivery"] == "embedded":
        status, link = http_json("GET", f"{api_url}/v1/contracts/{contract['contract_id']}/signing-link"
                                        f"?signer={position}", headers={"Authorization": f"Bearer {api_key}"})
        if status != 200:
            raise RuntimeError(f"signing link refused: HTTP {status} {link}")
        status, location = request_no_redirect(link["url"])
        if status != 302 or not location:
            raise RuntimeError(f"the signing link did not redirect to DocuSign: HTTP {status}")
        return location
    _, envelope = http_json("GET", f"{sandbox_url}/sandbox/envelopes/{contract['envelope_id']}")
    recipient = next(r for r in envelope["recipients"] if str(r["recipientId"]) == str(position))
    if not recipient.get("signing_url"):
        raise RuntimeError(f"signer {position} has no signing link yet (not their turn?)")
    return str(recipient["signing_url"])


def act(url: str, action: str = "sign", reason: str | None = None) -> tuple[int, str | None]:
    """Presses the sandbox page's Sign (or Decline) button."""
    fields = {"action": action}
    if reason:
        fields["reason"] = reason
    return request_no_redirect(url, fields)

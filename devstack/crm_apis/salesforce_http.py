"""simple-salesforce against a plain-HTTP instance (the local double).

simple-salesforce 1.12.10 builds every URL as f"https://{sf_instance}/…": from `instance_url` it
keeps only the host and the port (`http://127.0.0.1:8431` becomes `https://127.0.0.1:8431`), and
it has no option for the scheme. What it does support is `session=`, a `requests.Session` of the
caller's own ("enables the use of requests Session features not otherwise exposed"), used for
every call (sObjects, SOQL, query_more). A transport adapter mounted on that session for the
double's https origin sends those calls over http instead. Nothing else changes: the client, its
headers, its error handling and its parsing are the official ones.

    from simple_salesforce import Salesforce
    sf = Salesforce(instance_url=url, session_id=token, version="62.0", session=plain_http_session(url))

This module imports only `requests`, so the app's own Salesforce adapter can copy it as it is.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter


class _PlainHttpAdapter(HTTPAdapter):
    """Sends a request addressed to https://host:port over http://host:port (same path and query)."""

    def send(self, request: requests.PreparedRequest, *args: Any, **kwargs: Any) -> requests.Response:
        if request.url and request.url.startswith("https://"):
            request.url = "http://" + request.url[len("https://"):]
        return super().send(request, *args, **kwargs)


def plain_http_session(instance_url: str, session: requests.Session | None = None) -> requests.Session:
    """A requests session on which https://<host:port of instance_url> is spoken as plain http.
    Only that origin is affected; any other URL keeps https. An https instance_url is left alone."""
    session = session or requests.Session()
    parts = urlsplit(instance_url)
    if parts.scheme == "http" and parts.hostname:
        # The client writes the origin as host[:port] (no port when there is none, or it is 443).
        origin = parts.hostname if parts.port in (None, 443) else f"{parts.hostname}:{parts.port}"
        session.mount(f"https://{origin}/", _PlainHttpAdapter())
    return session

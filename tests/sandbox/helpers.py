"""Helpers for the DocuSign sandbox tests (HTTP, JWT, envelope builders, Connect listener)."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docusign_esign as ds
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from devstack.sandbox import SandboxConfig

INTEGRATION_KEY = "3f1c2b9a-0000-4000-8000-0000000000ik"
CONNECT_KEYS = ["connect-key-one", "connect-key-two"]
JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"

CONTRACT_TITLE = "销售合同（测试）第 42 号"
CONTRACT_HTML = f"""<!doctype html><html><head><meta charset="utf-8"><title>t</title></head>
<body style="font-size: 12pt">
<h1>{CONTRACT_TITLE}</h1>
<p>甲方：上海示例科技有限公司　乙方：北京样例贸易有限公司</p>
<p>合同金额：人民币壹拾贰万捌仟元整（¥128,000.00）。</p>
<p>甲方签字：<span style="color:white">/sn1/</span></p>
<p>乙方签字：<span style="color:white">/sn2/</span></p>
</body></html>"""


def generate_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def public_pem(key: rsa.RSAPrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


@dataclass
class HttpReply:
    status: int
    headers: Any
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def text(self) -> str:
        return self.body.decode("utf-8")


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def http(
    method: str,
    url: str,
    *,
    form: dict[str, str] | None = None,
    json_body: Any = None,
    headers: dict[str, str] | None = None,
) -> HttpReply:
    """One HTTP request, never following redirects; errors come back as replies."""
    data = None
    headers = dict(headers or {})
    if form is not None:
        data = urllib.parse.urlencode(form).encode()
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    elif json_body is not None:
        data = json.dumps(json_body).encode()
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with _opener.open(request, timeout=10) as response:
            return HttpReply(response.status, response.headers, response.read())
    except urllib.error.HTTPError as err:
        return HttpReply(err.code, err.headers, err.read())


def make_assertion(
    key: rsa.RSAPrivateKey,
    *,
    iss: str,
    sub: str,
    aud: str,
    scope: str = "signature impersonation",
    lifetime: int = 3600,
    iat_shift: int = 0,
) -> str:
    now = int(time.time()) + iat_shift
    claims = {"iss": iss, "sub": sub, "aud": aud, "iat": now, "exp": now + lifetime, "scope": scope}
    return jwt.encode(claims, key, algorithm="RS256")


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


@dataclass
class SandboxHandle:
    base: str
    config: SandboxConfig
    key: rsa.RSAPrivateKey
    _token: str | None = None

    @property
    def host(self) -> str:
        return self.base.split("//", 1)[1]

    @property
    def account_id(self) -> str:
        return self.config.account_id

    def token(self) -> str:
        if self._token is None:
            assertion = make_assertion(self.key, iss=INTEGRATION_KEY, sub=self.config.user_id, aud=self.host)
            reply = http("POST", self.base + "/oauth/token", form={"grant_type": JWT_GRANT, "assertion": assertion})
            assert reply.status == 200, reply.body
            self._token = reply.json()["access_token"]
        return self._token

    def client(self) -> ds.ApiClient:
        client = ds.ApiClient(host=self.base + "/restapi")
        client.set_default_header("Authorization", "Bearer " + self.token())
        return client

    def api(self) -> ds.EnvelopesApi:
        return ds.EnvelopesApi(self.client())

    def control(self, method: str, path: str, body: Any = None) -> Any:
        reply = http(method, self.base + path, json_body=body)
        assert reply.status < 300, (reply.status, reply.body)
        return reply.json()

    def connect_log(self, **filters: str) -> list[dict[str, Any]]:
        query = ("?" + urllib.parse.urlencode(filters)) if filters else ""
        return self.control("GET", "/sandbox/connect-log" + query)["entries"]

    def connect_idle(self, timeout: float = 5.0) -> None:
        wait_for(lambda: self.control("GET", "/sandbox/connect-log")["pending"] == 0, timeout, "connect idle")

    def sign(
        self,
        envelope_id: str,
        signer: ds.Signer,
        action: str = "sign",
        reason: str | None = None,
        return_url: str = "https://app.example/return?state=x",
    ) -> HttpReply:
        """Embedded signing as a browser would: mint a view, open it, press a button."""
        view = self.api().create_recipient_view(
            self.account_id,
            envelope_id,
            recipient_view_request=view_request(signer, return_url, with_recipient_id=True),
        )
        page = http("GET", view.url)
        assert page.status == 200, page.body
        form = {"action": action}
        if reason is not None:
            form["reason"] = reason
        return http("POST", view.url, form=form)


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Listener:
    """A Connect listener that answers 500 to the first `fail_first` messages, then 200."""

    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    url: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def messages(self) -> list[Any]:
        with self.lock:
            return [r.json() for r in self.received]

    def wait(self, count: int, timeout: float = 5.0) -> list[Received]:
        def enough() -> list[Received] | None:
            with self.lock:
                return list(self.received) if len(self.received) >= count else None

        return wait_for(enough, timeout, f"{count} Connect messages")


def view_request(signer: ds.Signer, return_url: str, *, with_recipient_id: bool = False) -> ds.RecipientViewRequest:
    """What the app sends to mint a view for an embedded signer (clientUserId, name and email must match)."""
    return ds.RecipientViewRequest(
        authentication_method="none",
        client_user_id=signer.client_user_id,
        user_name=signer.name,
        email=signer.email,
        recipient_id=signer.recipient_id if with_recipient_id else None,
        return_url=return_url,
    )


def embedded_signer(n: int, routing_order: int = 1, **extra: Any) -> ds.Signer:
    return ds.Signer(
        email=f"signer{n}@example.cn",
        name=["张三", "李四", "王五"][n - 1] if n <= 3 else f"Signer {n}",
        recipient_id=str(n),
        routing_order=str(routing_order),
        client_user_id=f"crm-user-{n}",
        tabs=ds.Tabs(
            sign_here_tabs=[
                ds.SignHere(anchor_string=f"/sn{n}/", anchor_units="pixels", anchor_x_offset="20", anchor_y_offset="10")
            ]
        ),
        **extra,
    )


def email_signer(n: int, routing_order: int = 1) -> ds.Signer:
    signer = embedded_signer(n, routing_order)
    signer.client_user_id = None
    return signer


def definition(
    signers: list[ds.Signer],
    *,
    html: str = CONTRACT_HTML,
    subject: str = "请签署：" + CONTRACT_TITLE,
    status: str = "sent",
    contract_id: str = "C-42",
    listener_url: str | None = None,
    events: list[str] | None = None,
    include_data: list[str] | None = None,
    require_ack: str = "true",
    expire_after: str | None = None,
    use_account_defaults: str = "false",
    carbon_copies: list[ds.CarbonCopy] | None = None,
    documents: list[ds.Document] | None = None,
) -> ds.EnvelopeDefinition:
    event_notification = None
    if listener_url:
        event_notification = ds.EventNotification(
            url=listener_url,
            delivery_mode="SIM",
            events=events
            or [
                "envelope-sent",
                "envelope-delivered",
                "envelope-completed",
                "envelope-declined",
                "envelope-voided",
                "recipient-sent",
                "recipient-delivered",
                "recipient-completed",
                "recipient-declined",
            ],
            event_data=ds.ConnectEventData(
                version="restv2.1",
                format="json",
                include_data=include_data if include_data is not None else ["custom_fields", "recipients"],
            ),
            include_hmac="true",
            require_acknowledgment=require_ack,
            logging_enabled="true",
        )
    notification = ds.Notification(
        use_account_defaults=use_account_defaults,
        reminders=ds.Reminders(reminder_enabled="true", reminder_delay="2", reminder_frequency="2"),
        expirations=ds.Expirations(expire_enabled="true", expire_after=expire_after or "30", expire_warn="5"),
    )
    return ds.EnvelopeDefinition(
        email_subject=subject,
        status=status,
        documents=documents
        or [
            ds.Document(
                document_base64=base64.b64encode(html.encode("utf-8")).decode("ascii"),
                document_id="1",
                file_extension="html",
                name="销售合同",
            )
        ],
        recipients=ds.Recipients(signers=signers, carbon_copies=carbon_copies),
        custom_fields=ds.CustomFields(
            text_custom_fields=[
                ds.TextCustomField(name="contractId", value=contract_id, show="false", required="false")
            ]
        ),
        notification=notification,
        event_notification=event_notification,
    )


def api_error(exc: ds.ApiException) -> dict[str, Any]:
    return json.loads(exc.body)

"""POST /v1/contracts/preview: validate and render a canonical contract, send nothing."""

from __future__ import annotations

from chalicelib.contracts import ContractInvalid, parse_webhook_body
from chalicelib.core.errors import ApiError, ValidationFailed
from chalicelib.intake.base import parse_json_object
from chalicelib.rendering.render import RenderError, render_contract
from chalicelib.store.templates import RegistryTemplateOverrides


def preview(tenant_id: str, raw_body: bytes) -> str:
    body = parse_json_object(raw_body)
    try:
        envelope = parse_webhook_body(body)
    except ContractInvalid as invalid:
        error = invalid.to_error_body()["error"]
        raise ApiError(error["message"], error.get("details", []), status=422, code="validation_error") from None
    if envelope.is_cancellation:  # well-formed, but there is nothing to render
        raise ValidationFailed("a preview needs a whole contract, not a cancellation",
                               [{"path": "event", "message": "must be contract.created or contract.updated"}])
    try:
        rendered = render_contract(envelope.full_contract.to_canonical_dict(), overrides=RegistryTemplateOverrides(),
                                   tenant_id=tenant_id)
    except RenderError as err:
        details = [{"path": err.field, "message": str(err)}] if getattr(err, "field", None) else []
        raise ApiError(f"the document could not be rendered: {err}", details, status=422,
                       code="render_error") from None
    return rendered.html

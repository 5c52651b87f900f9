"""The five CRM doubles by name."""

from __future__ import annotations

from . import fxiaoke, hubspot, pipedrive, salesforce, zoho
from .core import Vendor

VENDORS: dict[str, Vendor] = {
    "hubspot": hubspot.VENDOR,
    "salesforce": salesforce.VENDOR,
    "zoho": zoho.VENDOR,
    "pipedrive": pipedrive.VENDOR,
    "fxiaoke": fxiaoke.VENDOR,
}

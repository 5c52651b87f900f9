"""API doubles of five CRMs (HubSpot, Pipedrive, Salesforce, Zoho CRM, 纷享销客 Fxiaoke) that the
vendors' own clients talk to over plain HTTP, with seeded records, a log of the calls received and
counted faults.

    from devstack.crm_apis import serve_all, serve_in_thread
    urls, stop = serve_all()                       # {"hubspot": "http://127.0.0.1:…", …}
    url, stop = serve_in_thread("salesforce")      # one double

See README.md next to this file.
"""

from .core import create_app, double_of
from .seed import CREDENTIALS, SEED_IDS
from .server import serve_all, serve_in_thread
from .vendors import VENDORS

CRMS = tuple(VENDORS)

__all__ = ["CREDENTIALS", "CRMS", "SEED_IDS", "VENDORS", "create_app", "double_of", "serve_all", "serve_in_thread"]

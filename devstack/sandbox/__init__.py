"""A DocuSign-compatible sandbox the real docusign-esign SDK talks to over plain HTTP.

    from devstack.sandbox import SandboxConfig, create_app, serve_in_thread
    base_url, stop = serve_in_thread(SandboxConfig(integrations={key: public_pem}))

See README.md next to this file.
"""

from .app import create_app, sandbox_of
from .config import SandboxConfig
from .server import serve_in_thread

__all__ = ["SandboxConfig", "create_app", "sandbox_of", "serve_in_thread"]

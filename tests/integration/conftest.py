"""Integration tier: chalice.test.Client + moto + the DocuSign sandbox over HTTP through the SDK.
The fixtures (sandbox_url, app_server, stack) live in tests/support/fixtures.py, shared with the
browser tier; `packages` (the deployable package, built once per stage and session) in
tests/support/packaging.py."""

from tests.support.packaging import packages  # noqa: F401

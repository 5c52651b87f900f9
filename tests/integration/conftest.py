"""Integration tier: chalice.test.Client + moto + the DocuSign sandbox over HTTP through the SDK.
The fixtures (sandbox_url, app_server, stack) live in tests/support/fixtures.py, shared with the
browser tier."""

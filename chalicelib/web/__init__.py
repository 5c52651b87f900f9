"""The HTTP edge: what faces a request (auth, parsing, error mapping, views, pages, the OpenAPI document)."""

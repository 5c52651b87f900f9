"""The OpenAPI document: valid 3.1, and it describes exactly the routes app.py registers."""

from __future__ import annotations

import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from chalicelib.web.openapi import OPERATIONS, openapi_document, route_keys

# Routes a person opens in a browser: their refusals are HTML pages, not the JSON error shape.
PAGE_PATHS = ("/sign/{token}", "/approval/{token}", "/c/{token}", "/c/{token}/{kind}")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    import app

    return openapi_document(app.app.routes)


def test_it_is_a_valid_openapi_31_document(document: dict[str, Any]) -> None:
    assert document["openapi"].startswith("3.1")
    validate(document)
    json.dumps(document)  # plain JSON all the way down


def test_every_route_of_the_app_is_documented_and_nothing_else() -> None:
    import app

    routes = set(route_keys(app.app.routes))
    undocumented = routes - set(OPERATIONS)
    assert not undocumented, f"describe these routes in chalicelib/openapi.py: {sorted(undocumented)}"
    documented = {(path, method.upper()) for path, item in openapi_document(app.app.routes)["paths"].items()
                  for method in item}
    assert documented == routes


def test_a_route_that_does_not_exist_is_left_out() -> None:
    doc = openapi_document({"/health": {"GET": object()}})
    assert list(doc["paths"]) == ["/health"]


def test_the_public_table_of_the_design(document: dict[str, Any]) -> None:
    paths = document["paths"]
    for path, method in [("/v1/contracts", "get"), ("/v1/analytics/summary", "get"), ("/openapi.json", "get"),
                         ("/v1/contracts/{contract_id}", "get"), ("/v1/webhooks/{source_id}", "post")]:
        assert method in paths[path], path
    assert document["components"]["securitySchemes"]["apiKey"] == {
        "type": "http", "scheme": "bearer", "description": "an API key: `Authorization: Bearer <key>`"}
    assert paths["/health"]["get"]["security"] == [] and paths["/openapi.json"]["get"]["security"] == []
    assert paths["/v1/contracts"]["get"]["security"] == [{"apiKey": []}]
    milestone = paths["/v1/contracts/{contract_id}/milestones/{milestone_id}"]["post"]
    assert milestone["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MilestoneExecution"}
    preview = paths["/v1/contracts/preview"]["post"]
    # The generic webhook's body, less cancellations (nothing to render).
    assert preview["requestBody"]["content"]["application/json"]["schema"]["allOf"][0] == {
        "$ref": "#/components/schemas/WebhookEnvelope"}
    assert "text/html" in preview["responses"]["200"]["content"]
    error = document["components"]["schemas"]["Error"]
    assert error["required"] == ["error"] and error["properties"]["error"]["required"] == ["code", "message"]
    # Every error response uses the error shape.
    for path, item in paths.items():
        for method, operation in item.items():
            assert operation["operationId"], (path, method)
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and "content" in response and path not in PAGE_PATHS:
                    assert response["content"]["application/json"]["schema"] == {
                        "$ref": "#/components/schemas/Error"}, (path, method, status)


def test_schemas_are_valid_2020_12_and_every_ref_resolves(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for schema in schemas.values():
        Draft202012Validator.check_schema(schema)
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("$ref"), str):
                refs.append(node["$ref"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(document)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/") and ref.rsplit("/", 1)[-1] in schemas, ref
    assert "$defs" not in json.dumps(document)


def test_the_webhook_schema_accepts_the_samples_and_refuses_garbage(document: dict[str, Any]) -> None:
    from pathlib import Path

    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT202012

    # The components as one resource, so "#/components/schemas/…" refs resolve inside it.
    resource = Resource.from_contents({"components": document["components"]}, default_specification=DRAFT202012)
    registry = Registry().with_resource("urn:signbridge", resource)
    validator = Draft202012Validator({"$ref": "urn:signbridge#/components/schemas/WebhookEnvelope"},
                                     registry=registry)
    samples = sorted((Path(__file__).resolve().parents[2] / "devstack" / "samples").glob("*.json"))
    assert samples
    for sample in samples:
        assert not list(validator.iter_errors(json.loads(sample.read_text()))), sample.name
    assert list(validator.iter_errors({"event": "contract.created"}))


def test_served_without_auth() -> None:
    from chalice.test import Client

    import app

    with Client(app.app, stage_name="local") as client:  # the tests' stage (a deployed one needs settings)
        response = client.http.get("/openapi.json")
    assert response.status_code == 200
    assert response.json_body["openapi"] == "3.1.0" and "/v1/contracts" in response.json_body["paths"]

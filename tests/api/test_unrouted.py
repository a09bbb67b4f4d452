"""Requests no route serves: API Gateway's missing-token 403 under /v1/, JSON 404/405 elsewhere."""

from __future__ import annotations

import pytest
from starlette.testclient import TestClient

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def test_unknown_operation_is_missing_token_like_api_gateway(client: TestClient) -> None:
    response = client.post("/v1/catalog/noSuchOperation", json={})
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}
    assert response.headers["x-amzn-RequestId"]


def test_wrong_method_on_an_operation_is_missing_token(client: TestClient) -> None:
    response = client.get("/v1/catalog/upload")
    assert response.status_code == 403
    assert response.json() == {"message": "Missing Authentication Token"}


def test_unknown_path_outside_the_api_is_a_json_404(client: TestClient) -> None:
    response = client.get("/nowhere")
    assert response.status_code == 404
    assert response.json() == {"message": "Not Found"}

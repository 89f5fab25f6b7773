"""A page of stored JSON documents goes into the envelope as text, unchanged."""

from __future__ import annotations

import json

from app.ocpi.envelope import envelope_body, ocpi_json_list_response
from app.ocpi.status import OcpiStatus


def test_documents_are_spliced_into_a_valid_envelope() -> None:
    documents = [
        {"id": "LOC1", "name": 'Café \u00e9t\u00e9 \u2013 "quoted"', "power": 22.5, "evses": []},
        {"id": "LOC2", "nested": {"list": [1, None, True]}, "big": 12345678901234567890},
    ]
    # As PostgreSQL (jsonb's text form) and SQLite (json.dumps) give them back.
    texts = [json.dumps(documents[0], ensure_ascii=False), json.dumps(documents[1])]
    response = ocpi_json_list_response(texts, headers={"X-Total-Count": "2"})
    assert response.media_type == "application/json"
    assert response.headers["X-Total-Count"] == "2"
    body = json.loads(bytes(response.body).decode())
    assert body["data"] == documents
    assert body["status_code"] == OcpiStatus.SUCCESS
    assert set(body) == set(envelope_body(documents))
    assert body["timestamp"].endswith("Z")


def test_an_empty_page_is_an_empty_list() -> None:
    body = json.loads(bytes(ocpi_json_list_response([]).body).decode())
    assert body["data"] == []

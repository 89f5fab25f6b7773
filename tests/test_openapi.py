"""openapi/openapi.json is the app's document; regenerate with `voltroam openapi`."""

from __future__ import annotations

import json
from pathlib import Path

from app.core.settings import Settings
from app.main import create_app

DOCUMENT = Path(__file__).resolve().parents[1] / "openapi" / "openapi.json"


def test_openapi_document_is_in_sync() -> None:
    current = create_app(Settings(secret_key="x")).openapi()
    stored = json.loads(DOCUMENT.read_text())
    assert stored == current, "openapi/openapi.json is stale: run `voltroam openapi`"


def test_every_operation_is_documented() -> None:
    document = create_app(Settings(secret_key="x")).openapi()
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            assert operation.get("summary"), f"{method.upper()} {path} has no summary"
            assert operation.get("tags"), f"{method.upper()} {path} has no tag"

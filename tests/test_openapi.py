"""openapi/openapi.json is the app's document; regenerate with `voltroam openapi`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import fastapi
from fastapi import APIRouter, Depends
from pydantic import BaseModel

from app.core.admin_auth import require_admin
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


class Job(BaseModel):
    name: str


def test_error_answers_are_documented_for_every_route_even_new_ones() -> None:
    """Issue 14.9: the document gives the answers the handlers really give, for every route,
    also one included after the app was built (as other modules will be)."""
    later = APIRouter(prefix="/admin", tags=["admin"], dependencies=[Depends(require_admin)])

    @later.post("/jobs/{job_id}", summary="A route nobody told the document about")
    async def run_job(job_id: Annotated[int, fastapi.Path(ge=1)], body: Job) -> dict[str, str]:
        return {"name": body.name}

    ocpi_later = APIRouter(prefix="/ocpi/2.2.1/receiver/things", tags=["OCPI things"])

    @ocpi_later.put("/{thing_id}", summary="A new OCPI module")
    async def put_thing(thing_id: str, body: Job) -> dict[str, str]:
        return {"name": body.name}

    app = create_app(Settings(secret_key="x"))
    app.include_router(later)
    app.include_router(ocpi_later)
    document = app.openapi()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas and "ValidationError" not in schemas

    def schema_of(response: dict[str, object]) -> str:
        return json.dumps(response.get("content", {}))

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            where = f"{method.upper()} {path}"
            if path.startswith("/ocpi"):
                assert "422" not in responses, where
                assert "OcpiErrorEnvelope" in schema_of(responses["200"]), where
                assert "OcpiErrorEnvelope" in schema_of(responses["401"]), where
                if "requestBody" in operation:
                    for code in ("400", "413"):
                        assert "OcpiErrorEnvelope" in schema_of(responses[code]), (where, code)
            else:
                for code, response in responses.items():
                    if code.startswith("4"):
                        assert response.get("content"), (where, code)
                if "security" in operation:
                    assert "ErrorDetail" in schema_of(responses["401"]), where
    job = document["paths"]["/admin/jobs/{job_id}"]["post"]["responses"]
    assert {"400", "401", "404", "422"} <= set(job), job
    assert all("ErrorDetail" in schema_of(job[code]) for code in ("400", "401", "404", "422"))
    thing = document["paths"]["/ocpi/2.2.1/receiver/things/{thing_id}"]["put"]["responses"]
    assert {"200", "201", "400", "401", "404", "413"} <= set(thing) and "422" not in thing

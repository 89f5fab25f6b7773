"""The OpenAPI document describes every operation: tags, a summary and request examples.

The examples are real requests: each one validates with the model (or form field) that reads it,
and none of its fields is silently dropped (OCPI models ignore unknown fields, so a misspelled key
would otherwise pass).
"""

from __future__ import annotations

import json
from typing import Annotated, Any, get_origin, get_type_hints

import pytest
from fastapi import APIRouter, FastAPI, params
from fastapi.routing import APIRoute
from pydantic import BaseModel, TypeAdapter

from app.admin.chargers import AttachIn
from app.core.settings import Settings
from app.main import create_app
from app.modules.chargingprofiles.router import RESULT_MODELS
from app.ocpi.schemas.cdrs import CDR
from app.ocpi.schemas.chargingprofiles import (
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfileResult,
    ClearProfileResult,
    SetChargingProfile,
)
from app.ocpi.schemas.commands import (
    COMMAND_REQUEST_MODELS,
    CancelReservation,
    CommandResult,
    CommandType,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
)
from app.ocpi.schemas.common import OcpiModel, examples_of
from app.ocpi.schemas.credentials import Credentials
from app.ocpi.schemas.locations import (
    EVSE,
    Connector,
    ConnectorPatch,
    EvsePatch,
    Location,
    LocationPatch,
)
from app.ocpi.schemas.sessions import ChargingPreferences, Session, SessionPatch
from app.ocpi.schemas.tariffs import Tariff
from app.ocpi.schemas.tokens import LocationReferences, Token, TokenPatch
from app.payments.pages import router as pay_pages

METHODS = {"get", "put", "post", "patch", "delete", "head", "options", "trace"}
COMMANDS_PATH = "/ocpi/2.2.1/receiver/commands/{command}"
PROFILE_RESULTS_PATH = "/ocpi/2.2.1/sender/chargingprofiles/results/{result_id}"
# The routers with HTML form bodies (Form fields).
FORM_ROUTERS: list[APIRouter] = [pay_pages]

# Request bodies that carry examples on the model itself.
OCPI_MODELS: list[type[OcpiModel]] = [
    Credentials,
    Location,
    EVSE,
    Connector,
    LocationPatch,
    EvsePatch,
    ConnectorPatch,
    Tariff,
    Token,
    TokenPatch,
    LocationReferences,
    Session,
    SessionPatch,
    ChargingPreferences,
    CDR,
    CommandResult,
    CancelReservation,
    ReserveNow,
    StartSession,
    StopSession,
    UnlockConnector,
    SetChargingProfile,
    ActiveChargingProfile,
    ActiveChargingProfileResult,
    ChargingProfileResult,
    ClearProfileResult,
]
MODELS: list[type[BaseModel]] = [*OCPI_MODELS, AttachIn]
# Read from a plain dict body, so they only show up in the operation's examples.
NOT_IN_COMPONENTS = {*COMMAND_REQUEST_MODELS.values(), *RESULT_MODELS.values()}


@pytest.fixture(scope="module")
def app() -> FastAPI:
    return create_app(Settings(secret_key="x"))


@pytest.fixture(scope="module")
def document(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    ]


def _component(document: dict[str, Any], ref: str) -> dict[str, Any]:
    prefix = "#/components/schemas/"
    assert ref.startswith(prefix), ref
    schema: dict[str, Any] = document["components"]["schemas"][ref.removeprefix(prefix)]
    return schema


def _schema_has_example(document: dict[str, Any], schema: dict[str, Any], depth: int = 0) -> bool:
    """An example on the schema, on what it refers to, or on (one of) its properties."""
    if depth > 5:
        return False
    if schema.get("example") is not None or schema.get("examples"):
        return True
    if "$ref" in schema and _schema_has_example(
        document, _component(document, schema["$ref"]), depth + 1
    ):
        return True
    for key in ("anyOf", "oneOf", "allOf"):
        for option in schema.get(key, []):
            if option.get("type") != "null" and _schema_has_example(document, option, depth + 1):
                return True
    return any(
        prop.get("example") is not None or prop.get("examples")
        for prop in schema.get("properties", {}).values()
    )


def _dropped(original: Any, parsed: Any, where: str = "$") -> list[str]:
    """The keys of the example that did not survive parsing (unknown, hence ignored, fields)."""
    if isinstance(original, dict) and isinstance(parsed, dict):
        lost = [f"{where}.{key}" for key in original if key not in parsed]
        for key, value in original.items():
            if key in parsed:
                lost += _dropped(value, parsed[key], f"{where}.{key}")
        return lost
    if isinstance(original, list) and isinstance(parsed, list):
        return [
            item
            for index, (a, b) in enumerate(zip(original, parsed, strict=True))
            for item in _dropped(a, b, f"{where}[{index}]")
        ]
    return []


def _check_example(model: type[BaseModel], example: Any) -> None:
    # As a peer sends it: JSON text.
    parsed = model.model_validate_json(json.dumps(example))
    assert model.model_validate(example) == parsed
    dumped = parsed.model_dump(mode="json", exclude_none=True)
    assert not _dropped(example, dumped), f"{model.__name__}: fields ignored"


def test_every_operation_has_tags_and_a_summary(document: dict[str, Any]) -> None:
    undocumented = [
        f"{method.upper()} {path}"
        for method, path, operation in _operations(document)
        if not operation.get("tags") or not operation.get("summary")
    ]
    assert not undocumented


def test_every_request_body_has_an_example(document: dict[str, Any]) -> None:
    bodies = 0
    missing = []
    for method, path, operation in _operations(document):
        body = operation.get("requestBody")
        if body is None:
            continue
        for media_type, media in body["content"].items():
            bodies += 1
            if media.get("example") is not None or media.get("examples"):
                continue
            if not _schema_has_example(document, media.get("schema", {})):
                missing.append(f"{method.upper()} {path} ({media_type})")
    assert bodies > 20
    assert not missing, "request bodies without an example:\n" + "\n".join(missing)


@pytest.mark.parametrize("model", MODELS, ids=lambda model: model.__name__)
def test_model_examples_are_valid_requests(model: type[BaseModel]) -> None:
    examples = examples_of(model)
    assert examples, f"{model.__name__} has no examples"
    for example in examples:
        _check_example(model, example)


@pytest.mark.parametrize("model", OCPI_MODELS, ids=lambda model: model.__name__)
def test_examples_keep_the_ocpi_model_configuration(model: type[OcpiModel]) -> None:
    # model_config of a subclass is merged with OcpiModel's: unknown fields are still ignored.
    for key, value in OcpiModel.model_config.items():
        assert model.model_config.get(key) == value, key
    example = examples_of(model)[0]
    assert model.model_validate({**example, "x_vendor_extension": 1}) == model.model_validate(
        example
    )


@pytest.mark.parametrize(
    "model",
    [m for m in MODELS if m not in NOT_IN_COMPONENTS],
    ids=lambda model: model.__name__,
)
def test_components_show_the_model_examples(
    document: dict[str, Any], model: type[BaseModel]
) -> None:
    schemas = document["components"]["schemas"]
    names = [n for n in (model.__name__, f"{model.__name__}-Input") if n in schemas]
    assert names, f"{model.__name__} is not in the document"
    for name in names:
        assert schemas[name].get("examples") == examples_of(model), name


def _media_examples(document: dict[str, Any], path: str) -> dict[str, Any]:
    media = document["paths"][path]["post"]["requestBody"]["content"]["application/json"]
    examples: dict[str, Any] = media["examples"]
    return examples


def test_one_example_per_command(document: dict[str, Any]) -> None:
    examples = _media_examples(document, COMMANDS_PATH)
    assert set(examples) == {command.value for command in CommandType}
    for name, example in examples.items():
        assert example.get("summary")
        _check_example(COMMAND_REQUEST_MODELS[CommandType(name)], example["value"])


def test_one_example_per_charging_profile_result(document: dict[str, Any]) -> None:
    examples = _media_examples(document, PROFILE_RESULTS_PATH)
    models = {model.__name__: model for model in RESULT_MODELS.values()}
    assert set(examples) == set(models)
    for name, example in examples.items():
        assert example.get("summary")
        _check_example(models[name], example["value"])


def test_form_field_examples_are_valid() -> None:
    checked: set[str] = set()
    for route in [r for router in FORM_ROUTERS for r in router.routes]:
        if not isinstance(route, APIRoute):
            continue
        hints = get_type_hints(route.endpoint, include_extras=True)
        for name, hint in hints.items():
            if get_origin(hint) is not Annotated:
                continue
            form = next((m for m in hint.__metadata__ if isinstance(m, params.Form)), None)
            if form is None:
                continue
            assert form.examples, f"{route.path} form field {name} has no examples"
            adapter: TypeAdapter[Any] = TypeAdapter(hint)
            for example in form.examples:
                adapter.validate_python(example)
            checked.add(f"{route.path} {name}")
    assert {
        "/pay/test-checkout/{checkout_id} action",
        "/pay/{evse_uid}/start connector_id",
        "/pay/{evse_uid}/start cpo",
    } <= checked

"""compose.yaml: the hub, PostgreSQL and Redis, wired to each other and to real settings."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from app.core.settings import Settings
from app.ocpp.settings import OcppSettings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "compose.yaml"

# ${NAME}, ${NAME:-default}, ${NAME-default}, ${NAME:?error}, ${NAME?error} (Compose's forms).
VARIABLE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}")


class MissingVariable(Exception):
    pass


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's interpolation of ``value`` with the variables ``env`` (.env or the shell)."""

    def replace(match: re.Match[str]) -> str:
        name, op, arg = match["name"], match["op"], match["arg"] or ""
        present = name in env
        empty = not env.get(name)
        if op in (":?", "?") and (not present or (op == ":?" and empty)):
            raise MissingVariable(f"{name}: {arg}")
        if op in (":-", "-") and (not present or (op == ":-" and empty)):
            return arg
        return env.get(name, "")

    return VARIABLE.sub(replace, value.replace("$$", "\0")).replace("\0", "$")


def environment(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as a dict (Compose accepts a mapping or a list of NAME=VALUE)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(name): "" if value is None else str(value) for name, value in env.items()}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return dict(compose["services"])


@pytest.fixture(scope="module")
def hub_env(services: dict[str, Any]) -> dict[str, str]:
    return environment(services["hub"])


# What `docker compose up` would be given in .env: only the required values.
DOTENV = {"POSTGRES_PASSWORD": "s3cret-pw", "PUBLIC_URL": "https://hub.example.com"}


def test_the_three_services_exist(services: dict[str, Any]) -> None:
    assert {"hub", "postgres", "redis"} <= set(services)
    assert services["hub"]["build"] in (".", {"context": "."})
    assert (ROOT / "Dockerfile").is_file()
    assert services["postgres"]["image"].split(":")[1].startswith("16")
    assert services["redis"]["image"].split(":")[1].startswith("7")


def test_hub_waits_until_postgres_and_redis_are_healthy(services: dict[str, Any]) -> None:
    depends_on = services["hub"]["depends_on"]
    assert isinstance(depends_on, dict), "the long form is needed for a condition"
    for name in ("postgres", "redis"):
        assert depends_on[name]["condition"] == "service_healthy"


def test_every_service_has_a_healthcheck(services: dict[str, Any]) -> None:
    for name in ("hub", "postgres", "redis"):
        check = services[name].get("healthcheck")
        assert check and check.get("test") and not check.get("disable"), name
    hub_check = " ".join(services["hub"]["healthcheck"]["test"])
    assert "/readyz" in hub_check or "/healthz" in hub_check


def test_database_url_points_at_the_postgres_service(
    services: dict[str, Any], hub_env: dict[str, str]
) -> None:
    postgres = environment(services["postgres"])
    url = urlsplit(interpolate(hub_env["DATABASE_URL"], DOTENV))
    assert url.scheme in ("postgresql", "postgres", "postgresql+asyncpg")
    assert url.hostname == "postgres"
    assert (url.port or 5432) == 5432
    assert url.username == interpolate(postgres["POSTGRES_USER"], DOTENV)
    assert url.password == interpolate(postgres["POSTGRES_PASSWORD"], DOTENV) == "s3cret-pw"
    assert url.path.lstrip("/") == interpolate(postgres["POSTGRES_DB"], DOTENV)


def test_redis_url_points_at_the_redis_service(hub_env: dict[str, str]) -> None:
    url = urlsplit(interpolate(hub_env["REDIS_URL"], DOTENV))
    assert url.scheme == "redis"
    assert url.hostname == "redis"
    assert (url.port or 6379) == 6379


def test_every_hub_variable_is_a_real_setting(hub_env: dict[str, str]) -> None:
    fields = set(Settings.model_fields) | set(OcppSettings.model_fields)
    unknown = sorted(name for name in hub_env if name.lower() not in fields)
    assert unknown == [], f"not settings of the hub (typo or renamed?): {unknown}"
    assert {"DATABASE_URL", "REDIS_URL", "PUBLIC_URL", "SECRET_KEY_FILE"} <= set(hub_env)
    assert {"STRIPE_SECRET_KEY", "STRIPE_WEBHOOK_SECRET"} <= set(hub_env)


def test_required_values_must_be_given(hub_env: dict[str, str]) -> None:
    with pytest.raises(MissingVariable, match="POSTGRES_PASSWORD"):
        interpolate(hub_env["DATABASE_URL"], {})
    with pytest.raises(MissingVariable, match="PUBLIC_URL"):
        interpolate(hub_env["PUBLIC_URL"], {})


def test_the_hub_reads_its_environment_as_intended(
    services: dict[str, Any], hub_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    resolved = {name: interpolate(value, DOTENV) for name, value in hub_env.items()}
    # Stripe is off unless the operator fills the keys in.
    assert resolved["STRIPE_SECRET_KEY"] == "" and resolved["STRIPE_WEBHOOK_SECRET"] == ""
    for name, value in resolved.items():
        monkeypatch.setenv(name, value)
    settings = Settings()
    OcppSettings()  # every value has the right type
    assert settings.base_url == "https://hub.example.com"
    assert settings.async_database_url.startswith(
        "postgresql+asyncpg://voltroam:s3cret-pw@postgres"
    )
    assert settings.payment_provider_name == "local"
    # The secret key is a Docker secret of the hub's, mounted under /run/secrets.
    secret = Path(settings.secret_key_file)
    assert secret.parent == Path("/run/secrets")
    hub_secrets = [s if isinstance(s, str) else s["source"] for s in services["hub"]["secrets"]]
    assert secret.name in hub_secrets


def test_the_published_port_is_the_one_the_hub_listens_on(
    services: dict[str, Any], hub_env: dict[str, str]
) -> None:
    port = interpolate(hub_env.get("PORT", "8080"), DOTENV)
    published = [str(p).rsplit(":", 1)[-1].split("/")[0] for p in services["hub"]["ports"]]
    assert published == [port]
    assert f"127.0.0.1:{port}/" in " ".join(services["hub"]["healthcheck"]["test"])
    assert f"EXPOSE {port}" in (ROOT / "Dockerfile").read_text()


def test_named_volumes_and_secrets_are_declared(compose: dict[str, Any]) -> None:
    declared_volumes = set(compose.get("volumes") or {})
    declared_secrets = set(compose.get("secrets") or {})
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
            if not source.startswith((".", "/", "~")):
                assert source in declared_volumes, (name, source)
        for secret in service.get("secrets", []):
            source = secret if isinstance(secret, str) else secret["source"]
            assert source in declared_secrets, (name, source)
    assert "postgres-data" in declared_volumes
    assert any(
        v.split(":", 1)[1] == "/var/lib/postgresql/data"
        for v in compose["services"]["postgres"]["volumes"]
    )


def test_secret_files_are_not_committed() -> None:
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/secrets/" in ignored and ".env" in ignored


@pytest.mark.parametrize(
    ("text", "env", "expected"),
    [
        ("${A}", {"A": "1"}, "1"),
        ("${A}", {}, ""),
        ("${A:-x}", {"A": ""}, "x"),
        ("${A-x}", {"A": ""}, ""),
        ("${A:-x}", {}, "x"),
        ("a$${B}c", {"B": "no"}, "a${B}c"),
    ],
)
def test_interpolation_follows_compose(text: str, env: dict[str, str], expected: str) -> None:
    assert interpolate(text, env) == expected

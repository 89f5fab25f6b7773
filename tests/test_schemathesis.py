"""The hub answers what its OpenAPI document says (issue 14.9).

A bounded, reproducible schemathesis run (fixed seed, deterministic generation, no example
database) over every operation of ``/openapi.json``, against a real hub on 127.0.0.1 with a
registered platform that is both CPO and eMSP (its OCPI token) and an admin JWT. Stateless:
every operation on its own, valid and invalid inputs. It fails on any 5xx, any status code the
document does not list for the operation, any body that does not match the documented schema and
any content type the document does not give.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import sys
from pathlib import Path

import httpx

from app.core.admin_auth import issue_admin_token
from app.ocpi.auth import encode_token
from tests.conftest import invite, running_hub, running_party
from tests.hub.network import EMSP_ENDPOINTS, FAST, register
from tests.peers import FakeParty

CHECKS = ",".join(
    [
        "not_a_server_error",
        "status_code_conformance",
        "content_type_conformance",
        "response_schema_conformance",
        "response_headers_conformance",
    ]
)
# Deterministic generation makes the run the same every time (the seed is then not needed; it is
# given so that switching determinism off for a local hunt stays reproducible).
SEED = 2211
# Per operation and phase; with the coverage phase's boundary cases this is about 10,000 requests,
# a few minutes on the 2-core development machine.
MAX_EXAMPLES = 5
# Credentials operations (PUT re-registers, DELETE unregisters) get a platform of their own, so
# that the CPO+eMSP platform keeps its token for every other module.
CREDENTIALS = "^/ocpi/2\\.2\\.1/credentials$"


def _config(ocpi_token: str, credentials_token: str, admin_jwt: str) -> str:
    """schemathesis.toml: which Authorization header each part of the API gets."""

    def operations(regex: str, authorization: str) -> str:
        return (
            "[[operations]]\n"
            f"include-path-regex = {json.dumps(regex)}\n"
            f"headers = {{ Authorization = {json.dumps(authorization)} }}\n"
        )

    return "\n".join(
        [
            operations(CREDENTIALS, encode_token(credentials_token)),
            operations("^/ocpi/(?!2\\.2\\.1/credentials$)", encode_token(ocpi_token)),
            operations("^/admin", f"Bearer {admin_jwt}"),
        ]
    )


async def test_the_api_answers_what_its_document_says(database_url: str, tmp_path: Path) -> None:
    async with (
        httpx.AsyncClient(timeout=10) as http,
        running_hub(database_url, **FAST) as hub,
        running_party(
            FakeParty(
                roles=[("CPO", "NL", "CPA"), ("EMSP", "NL", "EM1")],
                endpoints=[*EMSP_ENDPOINTS, ("tokens", "RECEIVER"), ("commands", "RECEIVER")],
            )
        ) as both,
        running_party(FakeParty(roles=[("EMSP", "DE", "EM2")])) as other,
    ):
        assert hub.settings is not None
        # Platforms 1-20 are invitations nobody uses: ids a fuzzer tries first (1, 2, ...) do
        # not suspend the platforms under test.
        for n in range(20):
            await invite(http, hub, f"Unused {n}")
        await register(http, hub, both)
        await register(http, hub, other)
        assert both.hub_token and other.hub_token
        config = tmp_path / "schemathesis.toml"
        config.write_text(
            _config(both.hub_token, other.hub_token, issue_admin_token(hub.settings, ttl=3600))
        )
        command = [
            sys.executable,
            "-m",
            "schemathesis.cli",
            "--config-file",
            str(config),
            "--no-color",
            "run",
            f"{hub.base_url}/openapi.json",
            "--checks",
            CHECKS,
            "--phases",
            "examples,coverage,fuzzing",
            "--mode",
            "all",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--generation-deterministic",
            "--no-shrink",
            "--workers",
            "1",
            "--request-timeout",
            "30",
            "--max-failures",
            "200",
            "--report",
            "junit",
            "--report-dir",
            str(tmp_path / "report"),
        ]
        process = await asyncio.create_subprocess_exec(
            *command,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            env={**os.environ, "SCHEMATHESIS_HOOKS": ""},
            # Its crash cache (.schemathesis/) goes there, not into the work tree.
            cwd=tmp_path,
        )
        output, _ = await process.communicate()
        text = output.decode(errors="replace")
        # The summary (operations, phases, cases generated) is shown with `pytest -s`.
        print(text[text.rfind("SUMMARY") :])
        assert process.returncode == 0, text[-20000:]
        # Every operation of the document was exercised.
        document = (await http.get(f"{hub.base_url}/openapi.json")).json()
        operations = sum(len(methods) for methods in document["paths"].values())
        tested = re.search(r"Tested: (\d+)", text)
        assert tested is not None and int(tested.group(1)) == operations, text[-3000:]

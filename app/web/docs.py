"""API documentation pages that work without internet access.

FastAPI's own ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) pages load their JavaScript, CSS,
favicon (and ReDoc its fonts) from public CDNs, so on an operator's network without internet
access they stay blank. Here the same pages are built with FastAPI's ``get_swagger_ui_html`` /
``get_redoc_html``, but every asset is served by the hub itself from the files that the
``fastapi-offline`` package ships (Swagger UI 5 and ReDoc 2, the major versions FastAPI's pages are
written for, plus FastAPI's favicon).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

# The package and the folder inside it that hold the assets.
ASSETS_PACKAGE = ("fastapi_offline", "static")
# Where the hub serves them.
ASSETS_URL = "/docs/assets"
SWAGGER_JS = "swagger-ui-bundle.js"
SWAGGER_CSS = "swagger-ui.css"
REDOC_JS = "redoc.standalone.js"
FAVICON = "favicon.png"

DOCS_URL = "/docs"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"
REDOC_URL = "/redoc"

# The pages may load nothing from elsewhere: ReDoc 2 shows the Redocly logo from its CDN whatever
# its options, and with this policy the browser does not even try (the link text stays).
CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
    )
)

# Swagger UI would otherwise send the document to the public validator at validator.swagger.io.
SWAGGER_UI_PARAMETERS: dict[str, Any] = {"validatorUrl": None}


def install_docs(app: FastAPI) -> None:
    """Serve ``/docs`` (Swagger UI) and ``/redoc`` (ReDoc) with assets from the hub itself.

    The app must be created with ``docs_url=None, redoc_url=None`` so that FastAPI does not add its
    CDN-based pages first.
    """
    app.mount(ASSETS_URL, StaticFiles(packages=[ASSETS_PACKAGE]), name="docs-assets")

    # Behind a proxy that strips a prefix (uvicorn --root-path) every URL gets that prefix.
    def root(request: Request) -> str:
        return str(request.scope.get("root_path", "")).rstrip("/")

    def asset(request: Request, name: str) -> str:
        return f"{root(request)}{ASSETS_URL}/{name}"

    def openapi_url(request: Request) -> str:
        assert app.openapi_url is not None, "the docs need the OpenAPI document"
        return f"{root(request)}{app.openapi_url}"

    def local_only(page: HTMLResponse) -> HTMLResponse:
        page.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return page

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        return local_only(
            get_swagger_ui_html(
                openapi_url=openapi_url(request),
                title=f"{app.title} - Swagger UI",
                swagger_js_url=asset(request, SWAGGER_JS),
                swagger_css_url=asset(request, SWAGGER_CSS),
                swagger_favicon_url=asset(request, FAVICON),
                oauth2_redirect_url=f"{root(request)}{OAUTH2_REDIRECT_URL}",
                init_oauth=app.swagger_ui_init_oauth,
                swagger_ui_parameters={
                    **SWAGGER_UI_PARAMETERS,
                    **(app.swagger_ui_parameters or {}),
                },
            )
        )

    @app.get(OAUTH2_REDIRECT_URL, include_in_schema=False)
    async def swagger_ui_oauth2_redirect() -> HTMLResponse:
        return local_only(get_swagger_ui_oauth2_redirect_html())

    @app.get(REDOC_URL, include_in_schema=False)
    async def redoc(request: Request) -> HTMLResponse:
        return local_only(
            get_redoc_html(
                openapi_url=openapi_url(request),
                title=f"{app.title} - ReDoc",
                redoc_js_url=asset(request, REDOC_JS),
                redoc_favicon_url=asset(request, FAVICON),
                with_google_fonts=False,
            )
        )


__all__ = ["install_docs"]

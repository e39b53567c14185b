"""Web pages, served by the service that owns their data: the pieces every service shares.

Pages are rendered on the server (Jinja2, autoescaped) and work without JavaScript; the one
script, a static file of this package, only improves them. Nothing is loaded from another
host, nothing records the visitor, and every response carries a Content-Security-Policy
without 'unsafe-inline', so that text a reporter typed can never run as a script in a
clerk's browser. Chinese first; ``?lang=en`` shows English (a query parameter, not a
cookie: the public pages set none)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final, Literal
from urllib.parse import urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from common.subjects import Service

Language = Literal["zh", "en"]

STATIC_PATH: Final = "/static/common"
# The documentation pages FastAPI serves load their own scripts inline: they keep the other
# headers, and a policy of their own is left to them (they are for developers, not people).
_DOCS: Final = ("/docs", "/redoc", "/asyncapi")
CONTENT_SECURITY_POLICY: Final = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'; object-src 'none'"
)
SECURITY_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), interest-cohort=()",
}

# As raw header pairs (lower-case names), for the answers to the documentation pages and
# for all others.
_DOCUMENTATION_HEADERS: Final = tuple(
    (name.lower().encode("latin-1"), value.encode("latin-1"))
    for name, value in SECURITY_HEADERS.items()
)
_PAGE_HEADERS: Final = (
    *_DOCUMENTATION_HEADERS,
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("latin-1")),
)

# What each service offers people, in the one navigation across them.
NAVIGATION: Final[tuple[tuple[Service, str, str, str], ...]] = (
    (Service.INTAKE, "/report", "我要举报", "Report"),
    (Service.INTAKE, "/my-report", "查询举报", "My report"),
    (Service.INTAKE, "/desk/entry", "线索录入", "Enter a lead"),
    (Service.INTAKE, "/desk/identity-requests", "身份查阅", "Identity requests"),
    (Service.LEDGER, "/desk", "线索台账", "Ledger"),
    (Service.LEDGER, "/desk/tasks", "整改台账", "Rectification"),
    (Service.LEDGER, "/desk/campaigns", "自查自纠", "Self-inspections"),
    (Service.LEDGER, "/desk/me/declarations", "回避申报", "My declarations"),
    (Service.OVERSIGHT, "/desk", "纪委监督", "Committee"),
)


def _static_dir() -> Path:
    return Path(str(resources.files("common.web").joinpath("static")))


def _common_templates() -> Path:
    return Path(str(resources.files("common.web").joinpath("templates")))


class Pages:
    """A service's templates (its own, then the shared ones) and how to render them."""

    def __init__(self, service: Service, own: Path | None, site: Mapping[Service, str]) -> None:
        loaders = [FileSystemLoader(str(own))] if own is not None else []
        loaders.append(FileSystemLoader(str(_common_templates())))
        self.env = Environment(
            loader=ChoiceLoader(loaders),
            autoescape=select_autoescape(default=True, default_for_string=True),
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.service = service
        self.site = dict(site)

    def render(
        self,
        request: Request,
        template: str,
        lang: Language = "zh",
        status_code: int = 200,
        **context: Any,
    ) -> HTMLResponse:
        def t(zh: str, en: str) -> str:
            return zh if lang == "zh" else en

        root = str(request.scope.get("root_path", "")).rstrip("/")

        def here(path: str) -> str:
            """A path of this service, under the prefix an ingress serves it at."""
            return root + path

        def link(service: Service, path: str) -> str:
            base = root if service is self.service else self.site.get(service, "")
            suffix = "" if lang == "zh" else ("&" if "?" in path else "?") + "lang=en"
            return f"{base}{path}{suffix}"

        def switch_language() -> str:
            other = "en" if lang == "zh" else "zh"
            query = [(k, v) for k, v in request.query_params.multi_items() if k != "lang"]
            if other == "en":
                query.append(("lang", "en"))
            text = urlencode(query)
            return (
                root + str(request.scope["path"]).removeprefix(root) + (f"?{text}" if text else "")
            )

        html = self.env.get_template(template).render(
            request=request,
            lang=lang,
            t=t,
            here=here,
            link=link,
            switch_language=switch_language(),
            navigation=[(service, path, zh, en) for service, path, zh, en in NAVIGATION],
            static=root + STATIC_PATH,
            service=self.service.value,
            **context,
        )
        answer = HTMLResponse(html, status_code=status_code)
        renew = getattr(request.state, "renew_session", None)
        if renew is not None:
            # A staff page was used: its session goes on (common.web.people.signed_in).
            signer = request.app.state.sessions
            answer.set_cookie(
                request.app.state.session_cookie,
                signer.encode(signer.used(renew, time.time())),
                max_age=int(signer.idle_seconds),
                httponly=True,
                samesite="strict",
                secure=request.app.state.secure_cookies,
                path=request.app.state.cookie_path,
            )
        return answer


def install_web(app: FastAPI) -> None:
    """The shared static files, and the security headers on every response."""
    app.mount(STATIC_PATH, StaticFiles(directory=_static_dir()), name="common-static")

    app.add_middleware(SecurityHeaders)


class SecurityHeaders:
    """The security headers on every HTTP response. Plain ASGI, headers set as the response
    starts: ``@app.middleware("http")`` (Starlette's BaseHTTPMiddleware) would run every
    request through a task group of its own and stream its body through a memory channel:
    about 0.5 ms of CPU per request, measured on a small JSON POST."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        documentation = scope["path"].startswith(_DOCS)
        # One dict for the request's state, whatever copies of the scope the layers inside
        # make: a session renewed by common.auth is found here.
        state: dict[str, Any] = scope.setdefault("state", {})

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Raw pairs, looked through once (MutableHeaders scans the list per name).
                headers: list[tuple[bytes, bytes]] = list(message.get("headers", ()))
                given = {name.lower(): value for name, value in headers}
                wanted = _DOCUMENTATION_HEADERS if documentation else _PAGE_HEADERS
                headers.extend((name, value) for name, value in wanted if name not in given)
                renewed: bytes | None = state.get("renewed_session")
                if renewed is not None and not _sets_cookie(headers, renewed):
                    headers.append((b"set-cookie", renewed))
                # Pages show leads and identities' absence: never kept by a shared cache.
                if given.get(b"content-type", b"").startswith(b"text/html") and (
                    b"cache-control" not in given
                ):
                    headers.append((b"cache-control", b"no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, with_headers)


def _sets_cookie(headers: list[tuple[bytes, bytes]], cookie: bytes) -> bool:
    """Whether the response sets the cookie itself (renewed by the route's own response, or
    cleared by signing out, which must stay cleared)."""
    name = cookie.split(b"=", 1)[0] + b"="
    return any(key.lower() == b"set-cookie" and value.startswith(name) for key, value in headers)

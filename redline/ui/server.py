"""The web view's server: an aiohttp app on 127.0.0.1, its security rules, the store per request.

    request ──▶ security headers, Host check ──▶ token check (mutating requests) ──▶ handler
                                                                                      │
                      JSON (errors too) ◀── StoreGate: open_store, work, close ◀──────┘

* Only 127.0.0.1 is bound, and a request whose `Host` is not 127.0.0.1:PORT or localhost:PORT
  is refused (421), so a web page on another name that resolves to 127.0.0.1 (DNS rebinding)
  cannot read the store.
* Every request that changes something (POST, PUT, PATCH, DELETE) carries the per-process token
  in `X-Redline-Token`; the page gets it in a meta tag. A cross-site form cannot set that
  header, and another origin cannot read the page to learn the token.
* The page is static; everything from a transcript reaches it as JSON and is put in the page as
  text (the browser's DOM, never HTML strings), and the Content-Security-Policy allows only
  this server's own scripts and styles: no inline script, nothing from elsewhere.
* The store is opened per request and closed before the answer goes out, on one worker thread:
  the proxy's ingest and every CLI command need the DuckDB file, and the UI never holds it
  between requests.
"""

from __future__ import annotations

import hmac
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path

from aiohttp import web

from redline.analyzers import Registry
from redline.config import Location
from redline.errors import NotFound, RedlineError, StoreLocked, StoreUnavailable
from redline.ui import conversations, draft_routes, live, runs, task_routes
from redline.ui.shared import ALLOWED_HOSTS, GATE, REGISTRY, TOKEN, StoreGate, json_response

# The route modules, each adding its routes (and any state they keep) to the application.
ROUTES: tuple[Callable[[web.Application], None], ...] = (
    conversations.routes,
    task_routes.routes,
    draft_routes.routes,
    runs.routes,
    live.routes,
)

STATIC = Path(__file__).parent / "static"
HOST = "127.0.0.1"
TOKEN_HEADER = "X-Redline-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_status(exc: RedlineError) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, StoreLocked | StoreUnavailable):
        return 503
    return 400


@web.middleware
async def security(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The Host check first (DNS rebinding), then the token for anything that changes state;
    security headers on every answer, refusals included."""
    allowed = request.app[ALLOWED_HOSTS]
    if request.host not in allowed:
        response: web.StreamResponse = json_response(
            {"error": f"this server answers only to {' or '.join(sorted(allowed))}"}, 421
        )
    elif request.method not in SAFE_METHODS and not hmac.compare_digest(
        request.headers.get(TOKEN_HEADER, ""), request.app[TOKEN]
    ):
        response = json_response(
            {"error": "missing or wrong token: reload the page (the server was restarted?)"},
            403,
        )
    else:
        try:
            response = await handler(request)
        except RedlineError as exc:
            response = json_response({"error": str(exc)}, error_status(exc))
        except web.HTTPException as exc:
            if exc.status >= 400:
                response = json_response({"error": exc.reason}, exc.status)
            else:
                raise
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


async def index(request: web.Request) -> web.Response:
    """The one page; the token goes into its meta tag (it is URL-safe base64: nothing to
    escape)."""
    page = (STATIC / "index.html").read_text(encoding="utf-8")
    page = page.replace("{{token}}", request.app[TOKEN])
    return web.Response(text=page, content_type="text/html", headers={"Cache-Control": "no-store"})


async def static(request: web.Request) -> web.FileResponse:
    """A file of static/ by its plain name (no folders, no dot files)."""
    name = request.match_info["name"]
    path = STATIC / name
    if "/" in name or name.startswith(".") or not path.is_file() or name == "index.html":
        raise web.HTTPNotFound(reason=f"no static file {name}")
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


def make_app(db: Location, registry: Registry, *, token: str | None = None) -> web.Application:
    """The application. `allow_port(app, port)` must be called once the port is known."""
    app = web.Application(middlewares=[security], client_max_size=4 * 1024 * 1024)
    app[GATE] = StoreGate(db)
    app[TOKEN] = token or secrets.token_urlsafe(32)
    app[ALLOWED_HOSTS] = set()
    app[REGISTRY] = registry
    app.router.add_get("/", index)
    app.router.add_get("/static/{name}", static)
    for add in ROUTES:
        add(app)

    async def close_gate(app: web.Application) -> None:
        app[GATE].close()

    app.on_cleanup.append(close_gate)
    return app


def allow_port(app: web.Application, port: int) -> None:
    app[ALLOWED_HOSTS].clear()
    app[ALLOWED_HOSTS].update({f"127.0.0.1:{port}", f"localhost:{port}"})

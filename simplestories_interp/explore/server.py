"""The explorer's local web server: the page, its assets and a JSON API over :class:`.engine.Explorer`.

Starlette routes, served by uvicorn on 127.0.0.1 unless the person names another address with
``--host`` (there is no authentication, so it warns). The page and its JavaScript come from the package
(``explore/static``) and circuitsvis's bundle from the installed circuitsvis: nothing from a CDN,
and no file the person did not name is ever read (the asset route serves a fixed list). Every API
error is JSON with a message: 400 for bad input (the library's typed errors), 404 for an unknown
route, 500 with a one-line message (never a traceback) for a bug.

API (GET, parameters in the query string; ``ablate`` is a comma-separated list of component ids,
``mode`` ``zero`` or ``mean``):

* ``/api/info``: the model, its sizes, the SAEs, the attribution method;
* ``/api/predict?prompt=&ablate=&mode=``: tokens, top predictions and loss per position;
* ``/api/attribute?prompt=&pos=&target=&contrast=&ablate=&mode=``: ranked direct contributions;
* ``/api/component/{id}?prompt=``: a component's page (over the corpus, and on the prompt).
"""

from __future__ import annotations

import logging
from pathlib import Path

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route

from simplestories_interp.errors import InvalidArgumentError, SSIError
from simplestories_interp.explore.engine import Explorer
from simplestories_interp.render import thumbnails, views

STATIC = Path(__file__).parent / "static"
ASSETS = {"app.js": "text/javascript", "app.css": "text/css"}
LOOPBACK = ("127.0.0.1", "localhost", "::1")
log = logging.getLogger("ssi.explore")


def _circuitsvis() -> Path:
    import circuitsvis

    return Path(circuitsvis.__file__).parent / "dist" / "cdn" / "iife.js"


def _int(request: Request, name: str) -> int:
    value = request.query_params.get(name, "")
    try:
        return int(value)
    except ValueError:
        raise InvalidArgumentError(f"{name} must be a whole number, got {value!r}") from None


def build_app(explorer: Explorer, hosts: tuple[str, ...] = ()) -> Starlette:
    """The web app over ``explorer``; with ``hosts``, only requests whose Host header names one of them."""

    def q(request: Request, name: str, default: str = "") -> str:
        return request.query_params.get(name, default)

    async def index(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def asset(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "circuitsvis.js":
            return FileResponse(_circuitsvis(), media_type="text/javascript")
        if name == "views.css":  # the unit cards' styles, as the static pages have them
            return Response(views.CSS + thumbnails.CSS, media_type="text/css")
        if name not in ASSETS:
            raise HTTPException(404, f"no asset {name!r}")
        return FileResponse(STATIC / name, media_type=ASSETS[name])

    def info(request: Request) -> Response:
        return JSONResponse(explorer.info())

    def predict(request: Request) -> Response:
        return JSONResponse(explorer.predict(q(request, "prompt"), q(request, "ablate"), q(request, "mode", "zero")))

    def attribute(request: Request) -> Response:
        return JSONResponse(explorer.attribute(q(request, "prompt"), _int(request, "pos"), q(request, "target"),
                                               q(request, "contrast"), q(request, "ablate"),
                                               q(request, "mode", "zero")))

    def component(request: Request) -> Response:
        return JSONResponse(explorer.component(request.path_params["cid"], q(request, "prompt")))

    routes = [Route("/", index), Route("/static/{name}", asset), Route("/api/info", info),
              Route("/api/predict", predict), Route("/api/attribute", attribute),
              Route("/api/component/{cid}", component)]
    # On a loopback address only requests naming it are served: a web page the person visits cannot
    # reach the explorer through DNS rebinding.
    middleware = [Middleware(TrustedHostMiddleware, allowed_hosts=list(hosts))] if hosts else []
    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={SSIError: _bad_input, HTTPException: _http_error, Exception: _bug})


async def _bad_input(request: Request, exc: Exception) -> Response:
    return JSONResponse({"error": str(exc)}, status_code=400)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    return JSONResponse({"error": exc.detail or "not found"}, status_code=exc.status_code)


async def _bug(request: Request, exc: Exception) -> Response:
    log.error("explore: %s on %s: %s", type(exc).__name__, request.url.path, exc)
    return JSONResponse({"error": f"internal error ({type(exc).__name__}); see the terminal"}, status_code=500)


def serve(explorer: Explorer, host: str, port: int) -> None:
    """Run the server until Ctrl-C, printing the URL once it listens."""
    import uvicorn

    if host not in LOOPBACK:
        log.warning("ssi explore listens on %s: anyone who reaches this address can use it (no authentication)",
                    host)

    hosts = (*LOOPBACK, "[::1]") if host in LOOPBACK else ()
    config = uvicorn.Config(build_app(explorer, hosts), host=host, port=port, log_level="warning")
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets=None) -> None:
        await original(sockets=sockets)
        bound = server.servers[0].sockets[0].getsockname()[1] if server.servers else port
        name = f"[{host}]" if ":" in host else host
        print(f"ssi explore: {explorer.name} at http://{name}:{bound}/  (Ctrl-C stops)", flush=True)

    server.startup = startup
    server.run()

"""The console's web application (Starlette): routes, the access token, the pages.

Every request carries the access token printed at start: in the ``X-Embodex-Token`` header,
or, for GET and HEAD only (the browser loads pages, frames and videos by URL), in the
``token`` query parameter. A request that changes state (POST) must send the header, which
a page of another site cannot set on a cross-origin request, so a link or form elsewhere
cannot record a decision. No cookie is set or read. Paths in requests name episodes and
cameras that are looked up in the dataset's tables, and the static assets by a fixed list:
nothing a request names is joined onto a file path.
"""

from __future__ import annotations

import hmac
import json
import re
import tempfile
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from ..errors import EmbodexError, QCManifestError
from ..qc.reviewlog import MAX_NOTE
from ..trust.reviews import record_signed_review
from .data import FILTERS, ConsoleData, NotFound, reason_codes
from .settings import ConsoleSettings

__all__ = ["TOKEN_HEADER", "TokenGate", "create_app"]

TOKEN_HEADER = "x-embodex-token"
_MAX_BODY = 16 * 1024
_STATIC = {
    "console.js": "text/javascript; charset=utf-8",
    "console.css": "text/css; charset=utf-8",
}
#: The app shell runs only its own script; report pages carry their own inline script and
#: styles. Neither may fetch from anywhere else.
_CSP_APP = (
    "default-src 'self'; img-src 'self' data:; media-src 'self'; style-src 'self'; "
    "script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"
)
_CSP_PAGE = (
    "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; "
    "script-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'"
)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


class TokenGate:
    """ASGI middleware: refuse every request without the access token (403)."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app = app
        self.token = token.encode()

    def _ok(self, candidate: str | None) -> bool:
        return candidate is not None and hmac.compare_digest(candidate.encode(), self.token)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        given = headers.get(TOKEN_HEADER)
        if given is None and scope["method"] in ("GET", "HEAD"):
            query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
            given = (query.get("token") or [None])[0]
        if not self._ok(given):
            state_changing = scope["method"] not in ("GET", "HEAD")
            text = (
                "this request changes state: send the access token in the X-Embodex-Token header"
                if state_changing and given is None
                else "access token missing or wrong: open the URL `embodex console` printed"
            )
            response = JSONResponse({"error": text}, status_code=403)
            await response(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"referrer-policy", b"no-referrer"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"cache-control", b"private, no-store"),
                ]
                have = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in extra if h[0] not in have
                ]
            await send(message)

        await self.app(scope, receive, send_with_headers)


def _error(exc: EmbodexError, status: int = 400) -> JSONResponse:
    return JSONResponse({"error": exc.message, "hint": exc.hint}, status)


def _asset(name: str) -> bytes:
    return resources.files("embodex.console").joinpath("static", name).read_bytes()


def create_app(settings: ConsoleSettings) -> ASGIApp:
    """The console as an ASGI application (serve it with uvicorn: :func:`.server.serve`)."""
    data = ConsoleData(settings.dataset, trusted=[settings.signer.identity, *settings.trusted])
    token_q = "token=" + quote(settings.token, safe="")
    report_dir = Path(tempfile.mkdtemp(prefix="embodex-console-"))
    report_lock = threading.Lock()
    report_key: dict[str, str] = {}

    def index(request: Request) -> Response:
        html = _asset("index.html").decode("utf-8").replace("__TOKEN__", escape(settings.token))
        return HTMLResponse(html, headers={"content-security-policy": _CSP_APP})

    def static(request: Request) -> Response:
        name = request.path_params["name"]
        media = _STATIC.get(name)
        if media is None:  # a fixed list: no name from a request reaches the file system
            return JSONResponse({"error": f"no asset {name!r}"}, status_code=404)
        return Response(_asset(name), media_type=media)

    def session(request: Request) -> Response:
        pages = [{"id": "qc", "title": "QC report"}]
        if settings.catalog is not None:
            pages.append({"id": "catalog", "title": "Catalogue"})
        if settings.supply is not None:
            pages.append({"id": "supply", "title": "Supply status"})
        return JSONResponse(
            {
                "dataset": data.dataset.meta.name,
                "path": str(settings.dataset),
                "reviewer": settings.signer.name,
                "key_id": settings.signer.key_id,
                "reasons": reason_codes(),
                "pages": pages,
                "max_note": MAX_NOTE,
            }
        )

    def queue(request: Request) -> Response:
        params = request.query_params
        filters = {k: params[k] for k in FILTERS if k in params}
        return JSONResponse(data.queue(params.get("scope", "queue"), **filters))

    def episode(request: Request) -> Response:
        try:
            return JSONResponse(data.episode(request.path_params["episode_id"]))
        except NotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)

    async def frame(request: Request) -> Response:
        # a frame is a slice of a memory-mapped shard (a depth frame is rescaled, a few ms):
        # served on the event loop, without the hop to a worker thread that a sync route costs
        p = request.path_params
        try:
            f = data.frame(p["episode_id"], p["camera"], int(p["index"]))
        except NotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        # a frame never changes for this dataset state: let the browser keep it while playing
        return Response(
            f.data, media_type=f.media_type, headers={"cache-control": "private, max-age=600"}
        )

    def video(request: Request) -> Response:
        p = request.path_params
        try:
            path = data.video_file(p["episode_id"], p["camera"])
        except NotFound as exc:
            return JSONResponse({"error": str(exc)}, status_code=404)
        # FileResponse answers Range requests (206, 416) so the <video> element can seek
        return FileResponse(path, media_type="video/mp4")

    async def decision(request: Request) -> Response:
        body = await request.body()
        if len(body) > _MAX_BODY:
            return JSONResponse({"error": "request too large"}, status_code=413)
        try:
            doc = json.loads(body)
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        if not isinstance(doc, dict):
            return JSONResponse({"error": "the body is not a JSON object"}, status_code=400)
        eid = request.path_params["episode_id"]
        verdict, reason, note = doc.get("verdict"), doc.get("reason"), doc.get("note")
        if not isinstance(verdict, str) or not isinstance(reason, str):
            return JSONResponse({"error": "verdict and reason are required"}, status_code=400)
        if note is not None and not isinstance(note, str):
            return JSONResponse({"error": "note must be text"}, status_code=400)

        def record() -> Response:
            try:
                entry, manifest = record_signed_review(
                    settings.dataset,
                    eid,
                    verdict=verdict,  # type: ignore[arg-type]
                    reason=reason,
                    signer=settings.signer,
                    note=note or None,
                )
            except EmbodexError as exc:
                # QC no longer describes the data: the decision would judge the wrong thing
                return _error(exc, 409 if isinstance(exc, QCManifestError) else 400)
            return JSONResponse(
                {
                    "entry": entry.model_dump(mode="json"),
                    "verdict": manifest.episode(eid).verdict,
                }
            )

        # the log's file lock blocks: keep the event loop free for other reviewers
        return await run_in_threadpool(record)

    def _with_nav(html: str, current: str) -> str:
        links = [("queue", "Review queue", f"/?{token_q}")]
        links.append(("qc", "QC report", f"/pages/qc?{token_q}"))
        if settings.catalog is not None:
            links.append(("catalog", "Catalogue", f"/pages/catalog?{token_q}"))
        if settings.supply is not None:
            links.append(("supply", "Supply status", f"/pages/supply?{token_q}"))
        items = " · ".join(
            f"<b>{escape(label)}</b>" if key == current else f'<a href="{url}">{escape(label)}</a>'
            for key, label, url in links
        )
        nav = (
            '<nav style="font:14px system-ui,sans-serif;padding:8px 16px;background:#263238;'
            f'color:#eceff1">embodex console · {items}</nav>'
        ).replace('<a href="', '<a style="color:#80cbc4" href="')
        html = re.sub(r"(<body[^>]*>)", lambda m: m.group(1) + nav, html, count=1)
        # no icon request (it would carry no token and be refused)
        return re.sub(r"(<head[^>]*>)", r'\1<link rel="icon" href="data:,">', html, count=1)

    def _qc_report() -> str:
        from ..reports.qc_page import write_report

        manifest = data.manifest()
        key = f"{manifest.created_at}|{manifest.review_log.sha256 if manifest.review_log else ''}"
        out = report_dir / "report.html"
        with report_lock:
            if report_key.get("qc") != key or not out.exists():
                write_report(settings.dataset, out)
                report_key["qc"] = key
            return out.read_text(encoding="utf-8")

    def page(request: Request) -> Response:
        name = request.path_params["name"]
        builders: dict[str, Callable[[], str] | None] = {
            "qc": _qc_report,
            "catalog": settings.catalog,
            "supply": settings.supply,
        }
        build = builders.get(name)
        if build is None:
            return JSONResponse({"error": f"no page {name!r} in this console"}, status_code=404)
        try:
            html = build()
        except EmbodexError as exc:
            return _error(exc, 502)
        return HTMLResponse(_with_nav(html, name), headers={"content-security-policy": _CSP_PAGE})

    routes = [
        Route("/", index),
        Route("/static/{name}", static),
        Route("/api/session", session),
        Route("/api/queue", queue),
        Route("/api/episodes/{episode_id}", episode),
        Route("/api/episodes/{episode_id}/cameras/{camera}/frames/{index:int}", frame),
        Route("/api/episodes/{episode_id}/cameras/{camera}/video", video),
        Route("/api/episodes/{episode_id}/decision", decision, methods=["POST"]),
        Route("/pages/{name}", page),
    ]

    async def damaged(request: Request, exc: Exception) -> Response:
        # a tampered review log, a damaged shard: the reviewer sees the message and the fix
        assert isinstance(exc, EmbodexError)
        return _error(exc, 500)

    app = Starlette(routes=routes, exception_handlers={EmbodexError: damaged})
    return TokenGate(app, settings.token)

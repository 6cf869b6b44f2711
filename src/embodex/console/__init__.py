"""The review console: a local web application where reviewers watch episodes, see QC
findings on a timeline and decide with the keyboard (``embodex console DATASET``).

An application layer above the SDK: it may import any layer (QC for the queue and the log,
trust for signing, reports for the pages); nothing in the SDK imports it.

* data — the queue, one episode, frames: JSON-ready, no web framework
* settings — what a console serves and who signs (:func:`build_settings`)
* app — the Starlette application: routes, the access token, the pages
* server — the token, the socket, uvicorn (:func:`serve`, :func:`start`)
* static/ — the browser side: plain HTML, CSS and JavaScript, no build step, no CDN

The web framework (Starlette, uvicorn) is the optional extra ``embodex[console]`` and is
imported only when a console starts. Spec: ``specs/console.md``.

Example::

    from embodex.console import build_settings, start
    from embodex.trust import load_signer

    running = start(build_settings("datasets/week01", load_signer("rev-007")))
    print(running.url)   # open it; running.stop() when done
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._lazy import lazy_exports

if TYPE_CHECKING:
    from .app import create_app
    from .data import ConsoleData
    from .server import RunningConsole, exposure_warning, new_token, serve, start
    from .settings import ConsoleSettings, build_settings

__all__ = [
    "ConsoleData",
    "ConsoleSettings",
    "RunningConsole",
    "build_settings",
    "create_app",
    "exposure_warning",
    "new_token",
    "serve",
    "start",
]

_WHERE = {
    "ConsoleData": "data",
    "ConsoleSettings": "settings",
    "build_settings": "settings",
    "create_app": "app",
    "RunningConsole": "server",
    "exposure_warning": "server",
    "new_token": "server",
    "serve": "server",
    "start": "server",
}


__getattr__ = lazy_exports(__name__, _WHERE)

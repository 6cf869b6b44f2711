"""Starting the console: the access token, the listening socket, uvicorn.

:func:`serve` blocks until interrupted (``embodex console``); :func:`start` runs the server
in a background thread and returns once it listens (tests, benchmarks, notebooks).
"""

from __future__ import annotations

import ipaddress
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ..errors import ConsoleError
from .settings import ConsoleSettings

__all__ = ["RunningConsole", "exposure_warning", "new_token", "serve", "start"]


def new_token() -> str:
    """A random access token (192 bits, URL-safe)."""
    return secrets.token_urlsafe(24)


def exposure_warning(host: str) -> str | None:
    """A warning when ``host`` is reachable from other machines (None for loopback)."""
    if host == "localhost":
        return None
    try:
        if ipaddress.ip_address(host).is_loopback:
            return None
    except ValueError:
        pass  # a host name: it may resolve to anything
    return (
        f"the console listens on {host}: anyone who can reach this machine and learns the "
        "token can see the episodes and record decisions under your key; prefer the "
        "default 127.0.0.1 (and an SSH tunnel for remote reviewers)"
    )


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio turns Nagle's algorithm off only on sockets that
    # say they are TCP; with it on, every response (headers, then body) waited ~40 ms for the
    # client's delayed ACK
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConsoleError(
            f"cannot listen on {host}:{port}: {exc.strerror}",
            hint="Pick another `port=` (0 picks a free one), or stop what uses it.",
        ) from None
    sock.listen(128)
    sock.set_inheritable(True)
    return sock


@dataclass
class RunningConsole:
    """A console serving in a background thread (:func:`start`)."""

    url: str  # with the token: what a reviewer opens
    base: str  # without it
    token: str
    server: Any
    thread: threading.Thread

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


def _server(settings: ConsoleSettings) -> Any:
    try:  # the optional extra embodex[console]; imported only when serving
        import uvicorn

        from .app import create_app
    except ImportError as exc:
        raise ConsoleError(
            f"the console needs a web server that is not installed ({exc.name})",
            hint="pip install 'embodex[console]' (Starlette and uvicorn).",
        ) from None
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        access_log=False,
        lifespan="off",
        server_header=False,
    )
    return uvicorn.Server(config)


def _urls(sock: socket.socket, token: str) -> tuple[str, str]:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    base = f"http://{shown}:{port}"
    return f"{base}/?token={quote(token, safe='')}", base


def start(settings: ConsoleSettings, host: str = "127.0.0.1", port: int = 0) -> RunningConsole:
    """Serve the console in a daemon thread; returns once it accepts connections."""
    server = _server(settings)
    sock = _bind(host, port)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise ConsoleError("the console did not start", hint="Run with EMBODEX_DEBUG=1.")
        time.sleep(0.02)
    url, base = _urls(sock, settings.token)
    return RunningConsole(url, base, settings.token, server, thread)


def serve(
    settings: ConsoleSettings,
    host: str = "127.0.0.1",
    port: int = 8765,
    on_listen: Any = None,
) -> None:
    """Serve the console until interrupted; ``on_listen(url)`` is called with the URL to
    open (token included) once the socket listens."""
    server = _server(settings)
    sock = _bind(host, port)
    url, _ = _urls(sock, settings.token)
    if on_listen is not None:
        on_listen(url)
    server.run(sockets=[sock])

"""uvicorn serving the app: on the daemon's running event loop, or alone for `mediawatch web`."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket

import structlog
import uvicorn

log = structlog.get_logger("mediawatch.web")


def _config(app) -> uvicorn.Config:
    # log_config=None: our structlog setup stays; lifespan off: the app holds no resources of its own.
    return uvicorn.Config(app, log_config=None, access_log=False, lifespan="off", server_header=False)


class PortUnavailable(OSError):
    """The address to listen on is taken, or not this machine's."""


def bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound here so an address in use is an error the caller handles (and port 0 works)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as err:
        sock.close()
        raise PortUnavailable(err.errno, f"port {port} on {host} is not free ({err.strerror or err})") from err
    # Listening now: a client that comes before uvicorn's first accept waits in the backlog, not refused.
    sock.listen(128)
    return sock


def _announce(host: str, port: int) -> None:
    base = f"http://{f'[{host}]' if ':' in host else host}:{port}"
    # health_listening keeps its name and URL shape: monitors and the tests read it from the log.
    log.info("health_listening", url=f"{base}/healthz")
    log.info("web_listening", url=f"{base}/")


class _EmbeddedServer(uvicorn.Server):
    """uvicorn on a loop someone else owns: the daemon keeps its own SIGTERM/SIGINT/SIGHUP handlers
    (``serve()`` would swap them for uvicorn's until it stops)."""

    @contextlib.contextmanager
    def capture_signals(self):
        yield


class WebServer:
    """Serves the app on the loop already running (the daemon's); stopped by ``stop()``."""

    STARTUP_TIMEOUT_S = 10.0

    def __init__(self, app, host: str, port: int) -> None:
        self.app, self.host, self.port = app, host, port
        self._server: uvicorn.Server | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        sock = bind(self.host, self.port)
        self.port = sock.getsockname()[1]
        server = _EmbeddedServer(_config(self.app))
        task = asyncio.get_running_loop().create_task(server.serve(sockets=[sock]))
        deadline = asyncio.get_running_loop().time() + self.STARTUP_TIMEOUT_S
        while not server.started and not task.done():
            if asyncio.get_running_loop().time() > deadline:
                server.should_exit = True
                raise OSError(f"the web server did not start within {self.STARTUP_TIMEOUT_S:.0f}s")
            await asyncio.sleep(0.02)
        if task.done():
            sock.close()
            task.result()  # its error, if any
            raise OSError("the web server stopped at start")
        self._server, self._task = server, task
        _announce(self.host, self.port)

    async def stop(self) -> None:
        if self._server is None:
            return
        self._server.should_exit = True
        await self._task
        self._server = None


def serve_forever(app, host: str, port: int) -> None:
    """`mediawatch web`: serve until SIGINT/SIGTERM, then finish the requests under way and return (exit 0)."""
    sock = bind(host, port)
    port = sock.getsockname()[1]
    server = _EmbeddedServer(_config(app))

    async def run() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: setattr(server, "should_exit", True))
        _announce(host, port)
        await server.serve(sockets=[sock])

    asyncio.run(run())

"""The harness's HTTP server keeps a client's hang-up out of the suite's output, and nothing else."""

from __future__ import annotations

from http.server import BaseHTTPRequestHandler

import pytest

from tests.harness.httpserver import HarnessHTTPServer


@pytest.mark.parametrize("error, printed", [
    (ConnectionResetError(104, "Connection reset by peer"), False),
    (BrokenPipeError(32, "Broken pipe"), False),
    (ValueError("a fixture's own bug"), True),
])
def test_only_a_client_hanging_up_goes_unprinted(capsys, error, printed):
    server = HarnessHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    try:
        try:
            raise error
        except Exception:
            server.handle_error(None, ("127.0.0.1", 50056))
        assert (type(error).__name__ in capsys.readouterr().err) is printed
    finally:
        server.server_close()

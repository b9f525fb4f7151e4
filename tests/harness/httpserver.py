"""The suite's HTTP servers (fixture sites, webhook receivers, the fake Kibana and the other test-local
servers): the standard library's ``ThreadingHTTPServer``, quiet when a client hangs up.

A crawler that stops reading at its size cap, a webhook call or a Kibana import that times out, a
daemon stopped in the middle of a download: the tests provoke these, and the server's write or read
then fails with a ``ConnectionError``. The standard handler prints its traceback into the suite's
output, where it reads like a fault. Any other error is still printed.
"""

from __future__ import annotations

import sys
from http.server import ThreadingHTTPServer
from typing import Any


class HarnessHTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)

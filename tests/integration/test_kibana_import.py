"""`import_saved_objects` against a real HTTP server on 127.0.0.1 that keeps the contract of
Kibana's saved-objects import API: POST /api/saved_objects/_import, ``kbn-xsrf`` header
required, multipart/form-data with the NDJSON in a part named ``file`` (``.ndjson``
filename), answer ``{"success": true, "successCount": N, ...}``.
"""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import structlog
import structlog.testing

from scheduler.kibana import (
    KibanaImportError,
    credentials_from_env,
    default_ndjson_path,
    describe_error,
    import_saved_objects,
)
from tests.harness.httpserver import HarnessHTTPServer

NDJSON = Path(__file__).resolve().parents[2] / "deploy" / "kibana" / "mediawatch.ndjson"


class FakeKibana(HarnessHTTPServer):
    def __init__(self, mode: str = "ok") -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.mode = mode
        self.requests: list[dict] = []
        self.released = threading.Event()  # a "slow" Kibana answers only once the test is over

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Handler(BaseHTTPRequestHandler):
    server: FakeKibana

    def log_message(self, *args) -> None:  # keep pytest output clean
        pass

    def _reply(self, status: int, payload: dict) -> None:
        body = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _bad_request(self, message: str) -> None:
        self._reply(400, {"statusCode": 400, "error": "Bad Request", "message": message})

    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        url = urlsplit(self.path)
        record = {"path": url.path, "query": parse_qs(url.query), "headers": {k.lower(): v for k, v in self.headers.items()}}
        self.server.requests.append(record)
        mode = self.server.mode

        if mode == "slow":
            self.server.released.wait(30)
        if url.path != "/api/saved_objects/_import" and not url.path.endswith("/api/saved_objects/_import"):
            self._reply(404, {"statusCode": 404, "error": "Not Found", "message": "Not Found"})
            return
        if self.headers.get("kbn-xsrf") is None:
            self._bad_request("Request must contain a kbn-xsrf header.")
            return
        if mode == "500":
            self._reply(500, {"statusCode": 500, "error": "Internal Server Error",
                              "message": "An internal server error occurred."})
            return
        if mode == "400":
            self._bad_request("Invalid file extension .txt")
            return
        if mode == "html":
            body = b"<html>proxy says hello</html>"
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return

        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/form-data"):
            self._reply(415, {"statusCode": 415, "error": "Unsupported Media Type",
                              "message": "Unsupported Media Type"})
            return
        message = BytesParser(policy=HTTP).parsebytes(
            f"Content-Type: {ctype}\r\n\r\n".encode() + raw
        )
        parts = {p.get_param("name", header="content-disposition"): p for p in message.iter_parts()}
        if "file" not in parts:
            self._bad_request('[request body.file]: expected value of type [Stream] but got [undefined]')
            return
        part = parts["file"]
        filename = part.get_filename() or ""
        if not filename.endswith(".ndjson"):
            self._bad_request(f"Invalid file extension {Path(filename).suffix}")
            return
        content = part.get_payload(decode=True) or b""
        objects = []
        for line in content.decode().splitlines():
            if line.strip():
                obj = json.loads(line)  # a bad line makes Kibana answer 400; let the test see a 500
                if "exportedCount" not in obj:
                    objects.append(obj)
        record.update(filename=filename, objects=objects)

        if mode == "partial":  # 200 with per-object errors, as Kibana does for missing refs
            bad = objects[-1]
            self._reply(200, {
                "success": False,
                "successCount": len(objects) - 1,
                "errors": [{
                    "id": bad["id"], "type": bad["type"], "title": bad["attributes"].get("title"),
                    "meta": {"title": bad["attributes"].get("title")},
                    "error": {"type": "missing_references",
                              "references": [{"type": "index-pattern", "id": "gone"}]},
                }],
                "warnings": [],
            })
            return
        self._reply(200, {
            "success": True,
            "successCount": len(objects),
            "successResults": [{"type": o["type"], "id": o["id"], "meta": {}} for o in objects],
            "warnings": [],
        })


@pytest.fixture
def kibana(request):
    server = FakeKibana(getattr(request, "param", "ok"))
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.released.set()
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def _line_count(path: Path) -> int:
    return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if line.strip())


def test_posts_the_file_and_reports_success(kibana):
    summary = import_saved_objects(kibana.url + "/", NDJSON)

    expected = _line_count(NDJSON)
    assert summary["success"] is True
    assert summary["successCount"] == expected == summary["objectCount"]
    assert summary["errors"] == []
    (req,) = kibana.requests
    assert req["path"] == "/api/saved_objects/_import"
    assert req["query"] == {"overwrite": ["true"]}
    assert req["headers"]["kbn-xsrf"] == "true"
    assert "authorization" not in req["headers"]
    assert req["filename"] == "mediawatch.ndjson"
    sent = [(o["type"], o["id"]) for o in req["objects"]]
    on_disk = [(o["type"], o["id"]) for o in map(json.loads, NDJSON.read_text().splitlines())]
    assert sent == on_disk


def test_overwrite_false_and_space(kibana):
    summary = import_saved_objects(kibana.url, NDJSON, overwrite=False, space="analysts")
    assert summary["success"] is True
    (req,) = kibana.requests
    assert req["path"] == "/s/analysts/api/saved_objects/_import"
    assert req["query"] == {}


def test_api_key_goes_in_a_header_and_nowhere_else(kibana):
    with structlog.testing.capture_logs() as events:
        import_saved_objects(kibana.url, NDJSON, api_key="c2VjcmV0LWtleQ==")
    assert kibana.requests[0]["headers"]["authorization"] == "ApiKey c2VjcmV0LWtleQ=="
    assert [e["event"] for e in events] == ["kibana.import_started", "kibana.imported"]
    assert "c2VjcmV0LWtleQ" not in repr(events)


def test_basic_auth(kibana):
    with structlog.testing.capture_logs() as events:
        import_saved_objects(kibana.url, NDJSON, username="elastic", password="hunter2")
    token = base64.b64encode(b"elastic:hunter2").decode()
    assert kibana.requests[0]["headers"]["authorization"] == f"Basic {token}"
    assert events and "hunter2" not in repr(events) and token not in repr(events)


def test_api_key_and_password_together_is_a_caller_error(kibana):
    with pytest.raises(ValueError):
        import_saved_objects(kibana.url, NDJSON, api_key="k", username="u", password="p")
    assert kibana.requests == []


def test_credentials_from_env():
    assert credentials_from_env({}) == {}
    assert credentials_from_env({"KIBANA_API_KEY": "k", "KIBANA_USERNAME": "u"}) == {"api_key": "k"}
    assert credentials_from_env({"KIBANA_USERNAME": "u", "KIBANA_PASSWORD": "p"}) == {
        "username": "u", "password": "p"}


@pytest.mark.parametrize("kibana", ["partial"], indirect=True)
def test_per_object_errors_are_returned_not_raised(kibana):
    summary = import_saved_objects(kibana.url, NDJSON)
    assert summary["success"] is False
    assert summary["successCount"] == _line_count(NDJSON) - 1
    (err,) = summary["errors"]
    assert "missing_references" in describe_error(err)
    assert "index-pattern:gone" in describe_error(err)


@pytest.mark.parametrize("kibana", ["400"], indirect=True)
def test_http_400_raises_with_kibanas_message(kibana):
    with pytest.raises(KibanaImportError) as info:
        import_saved_objects(kibana.url, NDJSON)
    assert info.value.status == 400
    assert "HTTP 400" in str(info.value)
    assert "Invalid file extension" in str(info.value)
    assert "/api/saved_objects/_import" in str(info.value)


@pytest.mark.parametrize("kibana", ["500"], indirect=True)
def test_http_500_raises(kibana):
    with pytest.raises(KibanaImportError) as info:
        import_saved_objects(kibana.url, NDJSON, api_key="topsecret")
    assert info.value.status == 500
    assert "HTTP 500" in str(info.value) and "internal server error" in str(info.value)
    assert "topsecret" not in str(info.value)


@pytest.mark.parametrize("kibana", ["html"], indirect=True)
def test_a_non_kibana_answer_raises(kibana):
    with pytest.raises(KibanaImportError, match="not JSON"):
        import_saved_objects(kibana.url, NDJSON)


@pytest.mark.parametrize("kibana", ["slow"], indirect=True)
def test_timeout_raises(kibana):
    started = time.monotonic()
    with pytest.raises(KibanaImportError, match="did not answer within"):
        import_saved_objects(kibana.url, NDJSON, timeout=0.3)
    assert time.monotonic() - started < 2


def test_connection_refused_raises_clearly():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(KibanaImportError) as info:
        import_saved_objects(f"http://user:pw-secret@127.0.0.1:{port}", NDJSON, timeout=5)
    message = str(info.value)
    assert "cannot reach Kibana" in message and f"127.0.0.1:{port}" in message
    assert "pw-secret" not in message
    assert info.value.status is None


def test_missing_file_raises(tmp_path, kibana):
    with pytest.raises(KibanaImportError, match="cannot read"):
        import_saved_objects(kibana.url, tmp_path / "nope.ndjson")
    empty = tmp_path / "empty.ndjson"
    empty.write_text("\n")
    with pytest.raises(KibanaImportError, match="no saved objects"):
        import_saved_objects(kibana.url, empty)
    assert kibana.requests == []


def test_other_file_names_are_sent_as_ndjson(tmp_path, kibana):
    copy = tmp_path / "dashboards.json"
    copy.write_bytes(NDJSON.read_bytes())
    assert import_saved_objects(kibana.url, copy)["success"] is True
    assert kibana.requests[0]["filename"] == "dashboards.ndjson"


def test_default_path_is_the_bundled_file(monkeypatch):
    monkeypatch.delenv("MEDIAWATCH_KIBANA_NDJSON", raising=False)
    assert default_ndjson_path() == NDJSON
    monkeypatch.setenv("MEDIAWATCH_KIBANA_NDJSON", "/usr/share/mediawatch/kibana/mediawatch.ndjson")
    assert default_ndjson_path() == Path("/usr/share/mediawatch/kibana/mediawatch.ndjson")


def test_the_fake_enforces_the_xsrf_header(kibana):
    """Guard for the fake itself: without kbn-xsrf, Kibana (and the fake) answer 400."""
    import urllib.error
    import urllib.request

    req = urllib.request.Request(kibana.url + "/api/saved_objects/_import", data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=5)
    assert info.value.code == 400
    assert b"kbn-xsrf" in info.value.read()

"""Import the mediawatch Kibana saved objects (data views, visualizations, dashboard).

`mediawatch kibana import --url URL` calls :func:`import_saved_objects`, which posts
``deploy/kibana/mediawatch.ndjson`` to Kibana's saved-objects import API::

    POST {url}/api/saved_objects/_import?overwrite=true
    kbn-xsrf: true
    Content-Type: multipart/form-data; boundary=...   (one part, field name "file")

Standard library only (urllib), so the command works in the slim image too.
Credentials come from the caller (the CLI reads KIBANA_API_KEY, or KIBANA_USERNAME and
KIBANA_PASSWORD: see :func:`credentials_from_env`); they are sent as a header and never
logged nor put in an error message.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib import error as urlerror
from urllib import parse as urlparse
from urllib import request as urlrequest

import structlog

log = structlog.get_logger(__name__)

IMPORT_PATH = "/api/saved_objects/_import"
NDJSON_ENV = "MEDIAWATCH_KIBANA_NDJSON"
_BODY_EXCERPT = 500


class KibanaImportError(RuntimeError):
    """The import could not be done: Kibana unreachable, refused the request, or answered nonsense."""

    def __init__(self, message: str, *, status: int | None = None, body: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


def default_ndjson_path() -> Path:
    """Where the bundled saved objects are: $MEDIAWATCH_KIBANA_NDJSON, else the source checkout."""
    env = os.environ.get(NDJSON_ENV)
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "deploy" / "kibana" / "mediawatch.ndjson"


def credentials_from_env(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """Keyword arguments for :func:`import_saved_objects` from KIBANA_API_KEY / KIBANA_USERNAME / KIBANA_PASSWORD."""
    env = os.environ if environ is None else environ
    api_key = env.get("KIBANA_API_KEY") or ""
    username = env.get("KIBANA_USERNAME") or ""
    password = env.get("KIBANA_PASSWORD") or ""
    if api_key:
        return {"api_key": api_key}
    if username:
        return {"username": username, "password": password}
    return {}


def import_saved_objects(
    kibana_url: str,
    ndjson_path: Path | str,
    *,
    overwrite: bool = True,
    api_key: str | None = None,
    username: str | None = None,
    password: str | None = None,
    space: str | None = None,
    timeout: float = 30,
) -> dict[str, Any]:
    """Post an NDJSON export to Kibana and return its verdict.

    Returns ``{"success": bool, "successCount": int, "errors": [...], "warnings": [...],
    "objectCount": int, "url": str}``. A 200 answer with ``success: false`` (missing
    references, conflicts, unsupported types) is returned, not raised: the caller reports
    ``errors`` (see :func:`describe_error`). Raises :class:`KibanaImportError` when the file
    can't be read, Kibana can't be reached or times out, answers with an HTTP error, or
    answers something that is not the import API's JSON.
    """
    path = Path(ndjson_path)
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise KibanaImportError(f"cannot read saved objects file {path}: {exc.strerror or exc}") from exc
    object_count = _count_objects(payload, path)

    base = kibana_url.strip().rstrip("/")
    if not base.startswith(("http://", "https://")):
        raise KibanaImportError(f"Kibana URL must start with http:// or https://, got {_redact(base)!r}")
    space_prefix = f"/s/{urlparse.quote(space, safe='')}" if space else ""
    query = urlparse.urlencode({"overwrite": "true"}) if overwrite else ""
    url = f"{base}{space_prefix}{IMPORT_PATH}" + (f"?{query}" if query else "")
    shown_url = _redact(url)

    filename = path.name if path.name.endswith(".ndjson") else f"{path.stem or 'export'}.ndjson"
    boundary = f"mediawatch-{uuid.uuid4().hex}"
    body = _multipart(boundary, "file", filename, payload, "application/ndjson")
    headers = {
        "kbn-xsrf": "true",
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Accept": "application/json",
        "User-Agent": "mediawatch-kibana-import",
    }
    headers.update(_auth_headers(api_key, username, password))

    log.info("kibana.import_started", objects=object_count, file=str(path), url=shown_url)
    req = urlrequest.Request(url, data=body, headers=headers, method="POST")
    try:
        with urlrequest.urlopen(req, timeout=timeout) as resp:
            status = resp.status
            raw = resp.read()
    except urlerror.HTTPError as exc:
        raw_err = _read_quietly(exc)
        raise KibanaImportError(
            f"Kibana rejected the import at {shown_url}: HTTP {exc.code} {exc.reason}"
            f"{_kibana_message(raw_err)}",
            status=exc.code,
            body=raw_err[:_BODY_EXCERPT],
        ) from exc
    except urlerror.URLError as exc:
        reason = exc.reason
        if isinstance(reason, (TimeoutError, socket.timeout)):
            raise KibanaImportError(f"Kibana at {shown_url} did not answer within {timeout:g}s") from exc
        raise KibanaImportError(f"cannot reach Kibana at {shown_url}: {reason}") from exc
    except (TimeoutError, socket.timeout) as exc:
        raise KibanaImportError(f"Kibana at {shown_url} did not answer within {timeout:g}s") from exc
    except (ConnectionError, OSError) as exc:
        raise KibanaImportError(f"connection to Kibana at {shown_url} failed: {exc}") from exc

    text = raw.decode("utf-8", errors="replace")
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise KibanaImportError(
            f"Kibana at {shown_url} answered HTTP {status} with something that is not JSON "
            f"(is this really Kibana?): {text[:200]!r}",
            status=status,
            body=text[:_BODY_EXCERPT],
        ) from exc
    if not isinstance(answer, dict) or "success" not in answer:
        raise KibanaImportError(
            f"Kibana at {shown_url} answered HTTP {status} without an import result: {text[:200]!r}",
            status=status,
            body=text[:_BODY_EXCERPT],
        )

    summary: dict[str, Any] = {
        "success": bool(answer.get("success")),
        "successCount": int(answer.get("successCount") or 0),
        "errors": list(answer.get("errors") or []),
        "warnings": list(answer.get("warnings") or []),
        "objectCount": object_count,
        "url": shown_url,
    }
    if summary["success"]:
        log.info("kibana.imported", imported=summary["successCount"], objects=object_count)
    else:
        log.warning("kibana.import_incomplete", imported=summary["successCount"], objects=object_count,
                    errors="; ".join(describe_error(e) for e in summary["errors"][:5]))
    return summary


def describe_error(err: Mapping[str, Any]) -> str:
    """One line for one entry of the import API's ``errors`` list."""
    obj_type = err.get("type", "?")
    obj_id = err.get("id", "?")
    title = err.get("title") or (err.get("meta") or {}).get("title") or ""
    detail = err.get("error") or {}
    kind = detail.get("type", "error") if isinstance(detail, Mapping) else str(detail)
    extra = ""
    if isinstance(detail, Mapping):
        if detail.get("references"):
            refs = ", ".join(f"{r.get('type')}:{r.get('id')}" for r in detail["references"])
            extra = f" (missing {refs})"
        elif detail.get("message"):
            extra = f" ({detail['message']})"
    label = f"{obj_type}:{obj_id}" + (f" {title!r}" if title else "")
    return f"{label}: {kind}{extra}"


def _count_objects(payload: bytes, path: Path) -> int:
    count = 0
    for lineno, line in enumerate(payload.decode("utf-8", errors="strict").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise KibanaImportError(f"{path}:{lineno} is not valid JSON: {exc}") from exc
        if isinstance(obj, dict) and "exportedCount" in obj:  # Kibana's export summary line
            continue
        count += 1
    if count == 0:
        raise KibanaImportError(f"{path} holds no saved objects")
    return count


def _multipart(boundary: str, field: str, filename: str, content: bytes, content_type: str) -> bytes:
    head = (
        f"--{boundary}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {content_type}\r\n\r\n"
    ).encode("utf-8")
    return head + content + f"\r\n--{boundary}--\r\n".encode("ascii")


def _auth_headers(api_key: str | None, username: str | None, password: str | None) -> dict[str, str]:
    if api_key and (username or password):
        raise ValueError("give Kibana either an API key or a username and password, not both")
    if api_key:
        return {"Authorization": f"ApiKey {api_key}"}
    if username or password:
        if not (username and password is not None):
            raise ValueError("Kibana basic auth needs both a username and a password")
        token = base64.b64encode(f"{username}:{password}".encode("utf-8")).decode("ascii")
        return {"Authorization": f"Basic {token}"}
    return {}


def _redact(url: str) -> str:
    """Drop user:password@ from a URL before it reaches a log line or an error message."""
    parts = urlparse.urlsplit(url)
    if parts.username is None and parts.password is None:
        return url
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlparse.urlunsplit((parts.scheme, host, parts.path, parts.query, parts.fragment))


def _read_quietly(exc: urlerror.HTTPError) -> str:
    try:
        return exc.read().decode("utf-8", errors="replace")
    except Exception:  # noqa: BLE001 - the body is only a courtesy
        return ""


def _kibana_message(raw: str) -> str:
    """Kibana's error bodies are {"statusCode", "error", "message"}; surface the message."""
    if not raw:
        return ""
    try:
        data = json.loads(raw)
    except ValueError:
        return f": {raw[:200]}"
    if isinstance(data, dict) and data.get("message"):
        return f": {data['message']}"
    return f": {raw[:200]}"

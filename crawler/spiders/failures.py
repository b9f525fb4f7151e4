"""A download failure as the accounting status it counts as."""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
    StopDownload,
)

from crawler.middlewares import RequestRefused

__all__ = ["classify_failure"]


def classify_failure(exc: BaseException) -> tuple[str, str]:
    """Map a download failure to (status, reason)."""
    if isinstance(exc, RequestRefused):
        return exc.status, exc.reason
    if isinstance(exc, StopDownload):
        return "not_article", "non_html"
    if isinstance(exc, IgnoreRequest):
        msg = str(exc)
        if "redirect" in msg.lower():
            return "error:redirect_loop", msg
        if "offsite" in msg.lower():
            return "skipped:offsite", msg
        if "maxsize" in msg.lower() or "max size" in msg.lower() or "exceeded" in msg.lower():
            return "error:too_large", msg
        return "skipped:ignored", msg
    name = type(exc).__name__
    text = str(exc)[:300] or name
    if isinstance(exc, (DownloadTimeoutError, TimeoutError)) or "Timeout" in name:
        return "error:timeout", text
    if isinstance(exc, CannotResolveHostError) or "DNSLookup" in name:
        return "error:dns", text
    if isinstance(exc, DownloadConnectionRefusedError) or "ConnectionRefused" in name:
        return "error:connection_refused", text
    if isinstance(exc, DownloadCancelledError):
        return "error:too_large", text
    if isinstance(exc, ResponseDataLossError):
        return "error:data_loss", text
    if isinstance(exc, DownloadFailedError) or "Connection" in name:
        return "error:connection", text
    return f"error:{name.lower()}", text

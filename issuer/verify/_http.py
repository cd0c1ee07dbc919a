"""Discovery and JWKS responses: what to request and how long an answer may be used."""

from __future__ import annotations

import ipaddress
import re
from typing import Any
from urllib.parse import urlsplit

import httpx

from issuer.jose.errors import Reason, VerificationError

__all__ = ["discovery_url", "freshness", "jwks_document", "jwks_uri_from", "require_secure"]

MAX_DOCUMENT_BYTES = 256 * 1024
_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)


def require_secure(url: str) -> str:
    """https, or http on a loopback host only: keys fetched in clear text are not keys."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return url
    if parts.scheme == "http" and (host == "localhost" or _is_loopback(host)):
        return url
    raise ValueError(f"{url!r} must be https (http only on a loopback host)")


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def discovery_url(issuer_url: str) -> str:
    """OpenID Connect Discovery §4: the path is appended to the issuer, prefix kept."""
    return issuer_url.rstrip("/") + "/.well-known/openid-configuration"


def _document(response: httpx.Response) -> Any:
    if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
        raise VerificationError(Reason.JWKS_UNAVAILABLE, f"{response.url}: {response.status_code}")
    try:
        return response.json()
    except ValueError as error:
        raise VerificationError(Reason.JWKS_UNAVAILABLE, f"{response.url}: not JSON") from error


def jwks_uri_from(response: httpx.Response, issuer_url: str) -> str:
    """RFC 8414 §3.3: the metadata's issuer MUST be identical to the one we asked about."""
    document = _document(response)
    if not isinstance(document, dict) or document.get("issuer") != issuer_url:
        raise VerificationError(Reason.JWKS_UNAVAILABLE, "discovery issuer mismatch")
    uri = document.get("jwks_uri")
    if not isinstance(uri, str):
        raise VerificationError(Reason.JWKS_UNAVAILABLE, "discovery has no jwks_uri")
    try:
        return require_secure(uri)
    except ValueError as error:
        raise VerificationError(Reason.JWKS_UNAVAILABLE, str(error)) from error


def jwks_document(response: httpx.Response) -> Any:
    return _document(response)


def freshness(response: httpx.Response, default: float) -> float | None:
    """Seconds the response may be used (RFC 9111 §5.2.2.1); None when it says not to store."""
    cache_control = response.headers.get("cache-control", "")
    directives = {d.strip().split("=")[0].lower() for d in cache_control.split(",")}
    if "no-store" in directives or "no-cache" in directives:
        return None
    match = _MAX_AGE.search(cache_control)
    return float(match.group(1)) if match else default

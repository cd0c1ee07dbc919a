"""The CSP form-action of a hosted page names exactly where its form may redirect to."""

from __future__ import annotations

import pytest

from issuer.web.pages.page import page_headers


@pytest.mark.parametrize(
    ("target", "source"),
    [
        (None, ""),
        ("https://app.example.com/cb?x=1", " https://app.example.com"),
        ("http://127.0.0.1:8765/callback", " http://127.0.0.1:8765"),
        ("http://[::1]:8765/callback", " http://[::1]:8765"),
        ("https://user@app.example.com/cb", " https://app.example.com"),
        ("com.example.app:/oauth2redirect", " com.example.app:"),
        # Nothing that could end the directive or add another one.
        ("https://a.example.com;script-src/x", ""),
        ("https://a.example.com, evil/x", ""),
        ("java script:alert(1)", ""),
    ],
)
def test_form_action_names_the_redirect_origin_only(target: str | None, source: str) -> None:
    csp = page_headers("https://login.example.com", target)["Content-Security-Policy"]
    assert csp.endswith(f"form-action 'self'{source}")
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp


def test_https_pages_carry_hsts_too() -> None:
    headers = page_headers("https://login.example.com")
    assert headers["Strict-Transport-Security"].startswith("max-age=")
    assert "Strict-Transport-Security" not in page_headers("http://127.0.0.1:8000")

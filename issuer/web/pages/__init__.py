"""The hosted pages a browser sees (OpenID Connect Core 1.0 §3.1.2, RP-Initiated Logout 1.0):
authorize, login, consent, logout, and their stylesheet. HTML, no JavaScript needed."""

from __future__ import annotations

from litestar import Router
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.template.config import TemplateConfig

from issuer.web.pages import authorize, logout, static
from issuer.web.pages.errors import PAGE_EXCEPTION_HANDLERS
from issuer.web.pages.page import TEMPLATES_DIR

__all__ = ["TEMPLATE_CONFIG", "pages_router"]

TEMPLATE_CONFIG = TemplateConfig(directory=TEMPLATES_DIR, engine=JinjaTemplateEngine)

pages_router = Router(
    path="/",
    route_handlers=[*authorize.ROUTES, *logout.ROUTES, static.stylesheet],
    exception_handlers=PAGE_EXCEPTION_HANDLERS,
    include_in_schema=False,
)

"""`OPTIONS` answers `Allow` with every method of its path.

Litestar 2 makes a path's automatic OPTIONS handler when the first handler of the path is
registered, and keeps it when the others join, so its `Allow` lists the first one's methods
only (litestar#4169: `OPTIONS /admin/users` said `OPTIONS, POST`, without GET; fixed in
Litestar 3). `repair_options_allow` points each such handler at the route it ended up in.
"""

from __future__ import annotations

from litestar import Litestar
from litestar.routes import HTTPRoute

__all__ = ["repair_options_allow"]


def repair_options_allow(app: Litestar) -> None:
    for route in app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        for handler in route.route_handlers:
            function = handler.fn
            if handler.http_methods != {"OPTIONS"} or function.__name__ != "options_handler":
                continue  # not Litestar's automatic handler
            names = function.__code__.co_freevars
            cells = function.__closure__ or ()
            for name, cell in zip(names, cells, strict=True):
                if name == "self" and isinstance(cell.cell_contents, HTTPRoute):
                    cell.cell_contents = route

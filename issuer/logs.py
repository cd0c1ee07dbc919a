"""Log lines as one JSON object each: what a log reader can trust.

Request paths and parameters reach log messages decoded (`%0A` becomes a newline): written
as plain text, one request could forge a second, official-looking line (an audit event, a
login). As JSON every control character is escaped, so one record is always one line, and
a traceback of an unexpected error stays inside its record's `exc` field.

Every record logged while a request is served carries that request's `request_id` (see
`issuer.web.requests`), so that its lines can be found together, and by the id the client saw.
"""

from __future__ import annotations

import json
import logging
import logging.config
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

__all__ = ["REQUEST_ID", "JsonFormatter", "configure_logging", "logging_config"]

# The id of the request being served in this context (None outside a request).
REQUEST_ID: ContextVar[str | None] = ContextVar("request_id", default=None)

# Attributes every LogRecord has; anything else was passed with `extra=` and is logged too.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {
    "message",
    "asctime",
    "taskName",
    "color_message",  # uvicorn's coloured copy of `msg`
}


class JsonFormatter(logging.Formatter):
    """`{"ts", "level", "logger", "msg", …extra, "exc"}` on one line."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = REQUEST_ID.get()
        if request_id is not None:
            entry["request_id"] = request_id
        for name, value in vars(record).items():
            if name not in _STANDARD and not name.startswith("_"):
                entry[name] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, default=str, ensure_ascii=True)


def logging_config(level: str = "INFO") -> dict[str, Any]:
    """A `logging.config.dictConfig` dict: the issuer's and uvicorn's loggers, JSON on stderr,
    and the root logger too (warnings of libraries, asyncio's "exception never retrieved"),
    so that no line of the process is anything but one JSON object.

    Passed to uvicorn as `log_config`, so that its workers log the same way (the app leaves
    logging alone: Litestar's own configuration is switched off in `create_app`).
    """
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    logger = {"handlers": ["stderr"], "level": level, "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": JsonFormatter}},
        "handlers": {"stderr": handler},
        "loggers": {
            "issuer": logger,
            "uvicorn": logger,
            "uvicorn.error": {"level": level},
            "uvicorn.access": logger,
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def configure_logging(level: str = "INFO") -> None:
    logging.config.dictConfig(logging_config(level))

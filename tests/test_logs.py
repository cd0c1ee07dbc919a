"""Log records are one JSON object per line, whatever the message holds."""

from __future__ import annotations

import io
import json
import logging
import logging.config

from issuer.logs import JsonFormatter, logging_config


def _capture() -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("issuer.test-logs")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_a_decoded_newline_cannot_forge_a_second_line() -> None:
    logger, stream = _capture()
    forged = '/oauth/token\n{"level":"info","logger":"issuer.audit","msg":"admin granted"}'
    logger.info("refused %s", forged, extra={"client_id": "evil\r\nx", "status": 400})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["msg"] == f"refused {forged}"
    assert (record["level"], record["logger"]) == ("info", "issuer.test-logs")
    assert (record["client_id"], record["status"]) == ("evil\r\nx", 400)
    assert all(ord(c) >= 0x20 for c in lines[0])


def test_a_traceback_stays_inside_its_record() -> None:
    logger, stream = _capture()
    try:
        raise ValueError("boom")
    except ValueError:
        logger.exception("unexpected error on %s", "GET /x")
    lines = stream.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["level"] == "error"
    assert "ValueError: boom" in record["exc"]


def test_the_config_covers_the_issuer_and_uvicorn() -> None:
    config = logging_config("WARNING")
    assert {"issuer", "uvicorn", "uvicorn.access"} <= set(config["loggers"])
    assert config["root"]["handlers"] == ["stderr"]  # libraries' warnings are JSON too
    assert config["loggers"]["issuer"]["level"] == "WARNING"
    assert config["formatters"]["json"]["()"] is JsonFormatter
    # What dictConfig would build from it (not applied here: other tests read the log).
    assert isinstance(
        logging.config.DictConfigurator(config).configure_formatter(
            dict(config["formatters"]["json"])
        ),
        JsonFormatter,
    )


async def test_a_job_without_its_database_logs_one_warning_not_a_traceback(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from issuer.jobs import Lease, run_every
    from issuer.store.database import Database

    logger, stream = _capture()
    jobs_log = logging.getLogger("issuer.jobs")
    saved = jobs_log.handlers[:], jobs_log.propagate, jobs_log.level
    jobs_log.handlers[:], jobs_log.propagate = logger.handlers, False
    jobs_log.setLevel(logging.INFO)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'gone' / 'issuer.db'}")

    async def stop(_: float) -> None:
        raise asyncio.CancelledError

    async def never() -> None:
        raise AssertionError("the job runs only under its lease")

    try:
        try:
            await run_every(60, Lease(database, "cleanup", ttl=180), never, sleep=stop)
        except asyncio.CancelledError:
            pass
    finally:
        jobs_log.handlers[:], jobs_log.propagate = saved[0], saved[1]
        jobs_log.setLevel(saved[2])
        await database.dispose()
    [line, *_] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["level"] == "warning" and "exc" not in record
    assert record["msg"] == (
        "job cleanup: database unavailable (unable to open database file); retrying in 60s"
    )

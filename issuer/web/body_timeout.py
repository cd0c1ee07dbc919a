"""A request body must arrive within ISSUER_BODY_READ_TIMEOUT_SECONDS of its headers.

The ASGI server has no such limit (uvicorn times out idle keep-alive connections only): a
client that sends headers and then stalls, or drips its body a byte at a time, would hold
its connection and an app task forever, and hold graceful shutdown up with them. The app
wraps `receive` once per request: while the body is incomplete each read waits at most until
the deadline, then the request fails with 408 in the RFC 6749 §5.2 shape (one of the app's
exception handlers renders it) and `Connection: close`.

On SIGTERM uvicorn waits ISSUER_SHUTDOWN_TIMEOUT_SECONDS for requests in flight and then
cancels them; it would log the cancellation as an application error and answer a plain 500.
A request cancelled while it waits for its body answers 503 (try again, elsewhere) instead.
"""

from __future__ import annotations

import asyncio

from litestar.exceptions import HTTPException
from litestar.types import Receive, ReceiveMessage

__all__ = ["BodyReadTimeout", "ShuttingDown", "receive_by_deadline"]


class BodyReadTimeout(HTTPException):
    status_code = 408
    detail = "the request body was not received in time"

    def __init__(self) -> None:
        # The rest of the body may still come: the connection is not reusable.
        super().__init__(headers={"Connection": "close"})


class ShuttingDown(HTTPException):
    status_code = 503
    detail = "the server is shutting down; try again"

    def __init__(self) -> None:
        super().__init__(headers={"Connection": "close", "Retry-After": "1"})


def receive_by_deadline(receive: Receive, seconds: float) -> Receive:
    """`receive`, failing with `BodyReadTimeout` once `seconds` have passed since this call
    while the body is still incomplete. Reads after the body's end are not limited."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    complete = False

    async def receive_in_time() -> ReceiveMessage:
        nonlocal complete
        if complete:
            return await receive()
        try:
            async with asyncio.timeout_at(deadline):
                message = await receive()
        except TimeoutError:
            raise BodyReadTimeout() from None
        except asyncio.CancelledError:
            # The server's shutdown timeout (nothing else cancels a request): answer it.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            raise ShuttingDown() from None
        complete = message["type"] != "http.request" or not message.get("more_body", False)
        return message

    return receive_in_time

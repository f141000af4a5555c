"""Receiving one PDF from a multipart body without ever holding more than the limit.

The body is counted while it streams in. A declared Content-Length over the limit is refused before
reading; a body that grows past it (chunked, or a lying length) is refused as soon as it does. File
parts spool to a temporary file beyond 1 MiB, so memory holds at most the limit, once, when the
accepted file is read for hashing and storing.

Before answering 413 the rest of the body is read and dropped, up to another limit's worth: a client
that sends its whole body before reading the answer (most do) then sees the 413 instead of a
connection reset. Past that, the server closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator
from dataclasses import dataclass

from fastapi import Request
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser
from starlette.requests import ClientDisconnect

from api_server._problems import ApiProblem, ErrorCode

FILE_FIELD = "file"
# Room for the boundaries, the part headers and a few small fields around the file itself.
MULTIPART_ALLOWANCE = 64 * 1024
_DRAIN_SECONDS = 30.0


@dataclass(frozen=True)
class ReceivedFile:
    data: bytes
    filename: str


class _BodyTooLargeError(Exception):
    pass


class _Body:
    """The request body as a stream that stops with an error once it passes `limit` bytes."""

    def __init__(self, request: Request, limit: int) -> None:
        self.request = request
        self.limit = limit
        self.received = 0
        self.ended = False

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        while not self.ended:
            message = await self.request.receive()
            if message["type"] == "http.disconnect":
                raise ClientDisconnect()
            chunk: bytes = message.get("body", b"")
            self.received += len(chunk)
            self.ended = not message.get("more_body", False)
            if self.received > self.limit:
                raise _BodyTooLargeError
            if chunk:
                yield chunk

    async def drain(self, budget: int) -> None:
        """Read and drop what is left of the body, at most `budget` bytes and a few seconds."""
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_DRAIN_SECONDS):
                while not self.ended and budget > 0:
                    message = await self.request.receive()
                    if message["type"] != "http.request":
                        return
                    budget -= len(message.get("body", b""))
                    self.ended = not message.get("more_body", False)


def _too_large(max_bytes: int) -> ApiProblem:
    return ApiProblem(
        ErrorCode.TOO_LARGE, f"the file is larger than the limit of {max_bytes:,} bytes"
    )


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    return int(value) if value is not None and value.isdigit() else None


def safe_filename(name: str | None) -> str:
    """The file's base name, printable characters only: it is shown to people, never a path."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = "".join(ch for ch in base if ch.isprintable()).strip()
    return cleaned[:255] or "upload.pdf"


async def receive_pdf(request: Request, *, max_bytes: int) -> ReceivedFile:
    """The `file` part of a multipart body, refused with a problem when it cannot be accepted.

    Only size and shape are checked here; whether the bytes are a PDF is `check_pdf_bytes`'s call.
    """
    content_type = request.headers.get("content-type", "").lower()
    if not content_type.startswith("multipart/form-data"):
        raise ApiProblem(
            ErrorCode.UNSUPPORTED_MEDIA_TYPE,
            f"send the PDF as multipart/form-data, in a part named `{FILE_FIELD}`",
        )
    body = _Body(request, max_bytes + MULTIPART_ALLOWANCE)
    declared = _declared_length(request)
    if declared is not None and declared > body.limit:
        if declared <= body.limit + max_bytes:
            await body.drain(declared)
        raise _too_large(max_bytes)
    parser = MultiPartParser(
        request.headers, body.chunks(), max_files=1, max_fields=8, max_part_size=4096
    )
    try:
        form = await parser.parse()
    except _BodyTooLargeError:
        await body.drain(max_bytes)
        raise _too_large(max_bytes) from None
    except MultiPartException as exc:
        raise ApiProblem(
            ErrorCode.INVALID_UPLOAD, f"the multipart body is not valid: {exc.message}"
        ) from None
    except ClientDisconnect:
        raise ApiProblem(
            ErrorCode.INVALID_UPLOAD, "the client left before the body ended"
        ) from None
    try:
        upload = form.get(FILE_FIELD)
        if not isinstance(upload, UploadFile):
            raise ApiProblem(
                ErrorCode.INVALID_UPLOAD, f"the body has no file part named `{FILE_FIELD}`"
            )
        data = await upload.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise _too_large(max_bytes)
        return ReceivedFile(data, safe_filename(upload.filename))
    finally:
        await form.close()

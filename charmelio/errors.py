"""Typed stage errors. Each carries its `ErrorType` name, because Temporal retries by type name.

Raising a plain ``ApplicationError`` subclass without ``type=`` gives an empty type that no retry
policy can match (see the Temporal facts page), so every error here sets it from its class.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, ClassVar

from temporalio.exceptions import ApplicationError, ApplicationErrorCategory

from charmelio.contract import ErrorType


class CharmelioError(ApplicationError):
    """Base of every error a stage raises on purpose.

    ``always_final`` marks errors that no retry can fix whatever the workflow's policy says (a
    missing document, a rejected API key). Errors whose retry is a policy decision leave it False.
    """

    error_type: ClassVar[ErrorType]
    always_final: ClassVar[bool] = False
    # An expected answer about the input (an encrypted PDF), not a fault: the SDK then logs it at
    # DEBUG without a traceback, and the worker's one line per attempt says what happened.
    benign: ClassVar[bool] = False

    def __init__(
        self,
        message: str,
        *,
        reason: str | None = None,
        next_retry_delay: timedelta | None = None,
        **details: Any,
    ) -> None:
        payload = {"reason": reason, **details} if reason or details else None
        super().__init__(
            message,
            *((payload,) if payload else ()),
            type=self.error_type.value,
            non_retryable=self.always_final,
            next_retry_delay=next_retry_delay,
            category=(
                ApplicationErrorCategory.BENIGN
                if self.benign
                else ApplicationErrorCategory.UNSPECIFIED
            ),
        )
        self.reason = reason


class PDFValidationError(CharmelioError):
    """The file is not a PDF we accept (not a PDF, empty, too big, encrypted, no text)."""

    error_type = ErrorType.PDF_VALIDATION
    benign = True


class PDFParseError(CharmelioError):
    """The file claims to be a PDF but no engine could read it."""

    error_type = ErrorType.PDF_PARSE
    benign = True


class DocumentNotFoundError(CharmelioError):
    error_type = ErrorType.DOCUMENT_NOT_FOUND
    always_final = True
    benign = True


class InvalidInputError(CharmelioError):
    error_type = ErrorType.INVALID_INPUT
    always_final = True
    benign = True


class LLMRequestError(CharmelioError):
    """The provider refused the request itself (400/401/403/404): retrying cannot help."""

    error_type = ErrorType.LLM_REQUEST
    always_final = True


class LLMResponseError(CharmelioError):
    """The provider answered, but not with valid JSON for our schema. Another attempt may."""

    error_type = ErrorType.LLM_RESPONSE


class LLMUnavailableError(CharmelioError):
    """5xx, connection failure or timeout."""

    error_type = ErrorType.LLM_UNAVAILABLE


class LLMRateLimitedError(CharmelioError):
    """429: the next attempt waits for the provider's Retry-After."""

    error_type = ErrorType.LLM_RATE_LIMITED


class StorageUnavailableError(CharmelioError):
    error_type = ErrorType.STORAGE_UNAVAILABLE

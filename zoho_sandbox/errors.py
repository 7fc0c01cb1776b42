"""Zoho's error envelopes: the exception endpoints raise, and the errors they share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from zoho_sandbox.messages import Response


class ApiError(Exception):
    """A Zoho error envelope with its HTTP status."""

    def __init__(
        self, status: int, code: str, message: str, details: dict[str, Any] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.body: dict[str, Any] = {
            "code": code,
            "details": details or {},
            "message": message,
            "status": "error",
        }

    def response(self, headers: dict[str, str] | None = None) -> Response:
        return Response(self.status, self.body, headers or {}, self.code)


def safely(call: Callable[[], Response]) -> Response:
    """The endpoint's response, or the envelope of the ApiError it raised."""
    try:
        return call()
    except ApiError as err:
        return err.response()


def bad_url() -> ApiError:
    return ApiError(
        404, "INVALID_URL_PATTERN", "Please check if the URL trying to access is a correct one"
    )


def bad_method() -> ApiError:
    return ApiError(
        405, "INVALID_REQUEST_METHOD", "The http request method type is not a valid one"
    )


def invalid(message: str, **details: Any) -> ApiError:
    return ApiError(400, "INVALID_DATA", message, details)


def missing_param(name: str) -> ApiError:
    return ApiError(
        400, "REQUIRED_PARAM_MISSING", "One of the expected parameter is missing", {"param": name}
    )


def limit_exceeded(message: str, **details: Any) -> ApiError:
    return ApiError(400, "LIMIT_EXCEEDED", message, details)


def record_error(code: str, message: str, details: dict[str, Any]) -> dict[str, Any]:
    """One failed record of a write or delete (the call itself may still succeed, as a 207)."""
    return {"code": code, "details": details, "message": message, "status": "error"}

"""One error shape: JSON ``{"error": {"code", "message"}}`` under /api/, an HTML page elsewhere.

Views raise ``BadRequest``-style ``UserError`` with a message a person can act
on; nothing reaches the user as a traceback.
"""
from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from sanctions.locks import LockTimeout


class UserError(Exception):
    """A request the app refuses, with the status, a short code and a clear message."""

    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def bad_request(message: str, code: str = "bad_parameter") -> UserError:
    return UserError(400, code, message)


def not_found(message: str) -> UserError:
    return UserError(404, "not_found", message)


def _respond(status: int, code: str, message: str):
    if request.path.startswith("/api/"):
        return jsonify({"error": {"code": code, "message": message}}), status
    return render_template("error.html", status=status, code=code, message=message), status


def init_app(app: Flask) -> None:
    @app.errorhandler(UserError)
    def user_error(exc: UserError):
        return _respond(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        code = (exc.name or "error").lower().replace(" ", "_")
        return _respond(exc.code or 500, code, exc.description or exc.name)

    @app.errorhandler(LockTimeout)
    def busy(exc: LockTimeout):
        # A decision waited for a running match or import longer than its lock allows: nothing was written.
        response = _respond(503, "busy", f"{exc}. Nothing was recorded; try again in a minute.")
        response[0].headers["Retry-After"] = "60"
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unhandled error on %s", request.path)
        return _respond(500, "internal_error", "The server failed to answer this request; it has been logged.")

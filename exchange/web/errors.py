"""Error pages: GOV.UK-style HTML for the portal, JSON under ``/api/``."""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask.typing import ResponseReturnValue
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, InternalServerError

PAGES: dict[int, tuple[str, str]] = {
    400: ("There is a problem with the request", "Go back and try again."),
    401: ("You need to sign in", "Sign in to the exchange to see this page."),
    403: (
        "You do not have permission to see this page",
        "Your account does not give you access to this page. If you think it should, contact "
        "your organisation's administrator of the exchange.",
    ),
    404: (
        "Page not found",
        "If you typed the web address, check it is correct. If you pasted the web address, check "
        "you copied the entire address.",
    ),
    405: ("There is a problem with the request", "Go back and try again."),
    413: (
        "The file is too large",
        "The selected file is larger than the exchange accepts. Split it into smaller files and "
        "check each one.",
    ),
    500: ("Sorry, there is a problem with the service", "Try again later."),
}


def _wants_json() -> bool:
    return request.path.startswith("/api/")


def _render(status: int, title: str | None = None, body: str | None = None) -> ResponseReturnValue:
    default_title, default_body = PAGES.get(status, PAGES[400])
    title, body = title or default_title, body or default_body
    if _wants_json():
        return jsonify({"error": {"status": status, "title": title, "detail": body}}), status
    return render_template("error.html", title=title, body=body, status=status), status


def handle_http_exception(exc: HTTPException) -> ResponseReturnValue:
    status = exc.code or 500
    if status not in PAGES:
        return exc
    return _render(status)


def handle_csrf_error(exc: CSRFError) -> ResponseReturnValue:
    return _render(
        400,
        "The form has expired",
        "The page was open too long, or cookies are blocked. Go back, reload the page and try "
        "again.",
    )


def handle_server_error(exc: InternalServerError) -> ResponseReturnValue:
    return _render(500)


def init_app(app: Flask) -> None:
    app.register_error_handler(CSRFError, handle_csrf_error)
    app.register_error_handler(InternalServerError, handle_server_error)
    app.register_error_handler(HTTPException, handle_http_exception)

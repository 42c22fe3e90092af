"""Security headers on every response (an ``after_request`` hook).

The Content-Security-Policy allows only this origin and no inline script or style, so templates
must not use ``<script>`` bodies, ``style=`` attributes or ``on*=`` handlers: GOV.UK Frontend is
started by ``static/js/init.js``.
"""

from __future__ import annotations

from flask import Flask, Response, current_app

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "init_app"]

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS: dict[str, str] = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), geolocation=(), microphone=(), payment=(), usb=()",
}


# Only behind TLS (EXCHANGE_SECURE_COOKIES): over plain http it would be ignored at best.
HSTS = "max-age=31536000; includeSubDomains"


def set_security_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["EXCHANGE"].secure_cookies:
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


def init_app(app: Flask) -> None:
    app.after_request(set_security_headers)

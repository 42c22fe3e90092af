"""Placeholder replaced by the portal work."""

from flask import Blueprint

bp = Blueprint("catalogue", __name__)

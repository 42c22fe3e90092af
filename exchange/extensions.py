"""Unbound Flask extensions, bound to an app in ``create_app`` (Flask's application-factory
pattern): importing this module connects to nothing."""

from flask_wtf import CSRFProtect

from .db import Database

csrf = CSRFProtect()
db = Database()

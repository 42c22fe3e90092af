"""SQLAlchemy models, one module per aggregate. Importing this package registers them all on
``Base.metadata`` (Alembic's autogenerate and the tests rely on that)."""

from .audit import AuditEvent, AuditHead
from .base import Base

__all__ = ["AuditEvent", "AuditHead", "Base"]

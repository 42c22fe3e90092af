"""SQLAlchemy models, one module per aggregate. Importing this package registers them all on
``Base.metadata`` (Alembic's autogenerate and the tests rely on that)."""

from .audit import AuditEvent, AuditHead
from .base import Base
from .organisation import AllianceMembership, Organisation, OrganisationKind
from .user import RecoveryCode, Role, User

__all__ = [
    "AllianceMembership",
    "AuditEvent",
    "AuditHead",
    "Base",
    "Organisation",
    "OrganisationKind",
    "RecoveryCode",
    "Role",
    "User",
]

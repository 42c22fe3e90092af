"""SQLAlchemy models, one module per aggregate. Importing this package registers them all on
``Base.metadata`` (Alembic's autogenerate and the tests rely on that)."""

from .audit import AuditEvent, AuditHead
from .base import Base
from .comparison import ComparisonFile, ComparisonSet, ComparisonStatus
from .context import ContextDataset, ContextValue
from .custom_set import CustomComparisonSet, CustomComparisonSetMember
from .job import Job, JobStatus
from .journey import ImprovementJourney, OfstedJudgement
from .organisation import AllianceMembership, Organisation, OrganisationKind
from .reference import (
    ChildPopulation,
    ReferenceLocalAuthority,
    ReferenceRegion,
    StatisticalNeighbour,
)
from .release import PrivacyLedgerEntry, Release, ReleasePolicySetting, ReleaseStatus
from .sharing import SharingSetting
from .stored_file import StoredFile
from .submission import (
    IndicatorValue,
    PendingUpload,
    PendingUploadStatus,
    Submission,
    SubmissionVersion,
    VersionStatus,
)
from .user import RecoveryCode, Role, User

__all__ = [
    "AllianceMembership",
    "AuditEvent",
    "AuditHead",
    "Base",
    "ChildPopulation",
    "ComparisonFile",
    "ComparisonSet",
    "ComparisonStatus",
    "ContextDataset",
    "ContextValue",
    "CustomComparisonSet",
    "CustomComparisonSetMember",
    "ImprovementJourney",
    "IndicatorValue",
    "Job",
    "JobStatus",
    "OfstedJudgement",
    "Organisation",
    "OrganisationKind",
    "PendingUpload",
    "PendingUploadStatus",
    "PrivacyLedgerEntry",
    "RecoveryCode",
    "ReferenceLocalAuthority",
    "ReferenceRegion",
    "Release",
    "ReleasePolicySetting",
    "ReleaseStatus",
    "Role",
    "SharingSetting",
    "StatisticalNeighbour",
    "StoredFile",
    "Submission",
    "SubmissionVersion",
    "User",
    "VersionStatus",
]

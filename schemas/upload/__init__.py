"""Upload validation: the tidy, EES-aligned long format (docs/upload-format.md)."""

from .columns import EES_SYMBOLS, IDENTITY_COLUMNS, KEY_COLUMNS, MEASURE_COLUMNS, TOTAL
from .reading import FileLimits
from .report import Problem, ValidationReport
from .validate import ValidationContext, build_upload_model, validate_path, validate_upload

__all__ = [
    "EES_SYMBOLS",
    "IDENTITY_COLUMNS",
    "KEY_COLUMNS",
    "MEASURE_COLUMNS",
    "TOTAL",
    "FileLimits",
    "Problem",
    "ValidationContext",
    "ValidationReport",
    "build_upload_model",
    "validate_path",
    "validate_upload",
]

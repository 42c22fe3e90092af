"""Pure privacy library: statistical disclosure control and differential privacy on DataFrames.

It imports nothing from the web app, the database layer or the task queue (enforced by ruff's
banned-api rule and tests/unit/test_layering.py)."""

from __future__ import annotations

import importlib
from typing import Any

# The public API, re-exported lazily (PEP 562): importing ``privacy`` stays cheap, and a
# submodule (pandera, scipy) is only loaded when one of its names is first used.
_EXPORTS: dict[str, str] = {
    # privacy.cells
    "Attacker": "cells",
    "CellFrame": "cells",
    "Relations": "cells",
    "Structure": "cells",
    "build_relations": "cells",
    "validate_cells": "cells",
    # privacy.policy
    "DFE": "policy",
    "OPENSAFELY_MIDPOINT6": "policy",
    "OPENSAFELY_ROUND5": "policy",
    "POLICIES": "policy",
    "SuppressionPolicy": "policy",
    "policy_by_name": "policy",
    # privacy.suppression
    "PROTECTED_COLUMNS": "suppression",
    "primary": "suppression",
    "apply_pattern": "suppression",
    "protect": "suppression",
    "protect_with_report": "suppression",
    "round_counts": "suppression",
    "rounding_interval": "suppression",
    "secondary": "suppression",
    # privacy.audit (its ``audit`` function is reached as ``privacy.audit.audit``: the
    # package attribute ``audit`` is the submodule itself)
    "OUTSIDER": "audit",
    "AuditReport": "audit",
    "DisclosureRisk": "audit",
    "require_protected": "audit",
    # privacy.groups
    "MIN_CONTRIBUTORS": "groups",
    "group_statistic_allowed": "groups",
    "group_statistics": "groups",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'privacy' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # cache: later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})

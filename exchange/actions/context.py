"""Context datasets: administrators load published figures per LA and period; everyone reads them.

Writing — :func:`load_context` (administrators, and the system actor: the CLI and the demo):
a file in the :mod:`schemas.context` format is validated whole by
:func:`schemas.context.read_context`; a file with any problem changes nothing (its rejection is
audited, with counts of problems by rule) and the :class:`~schemas.context.ContextFileError`
goes back to the caller with every problem. A valid file is stored in ONE transaction with its
``context_loaded`` audit event: a :class:`~exchange.models.ContextDataset` recording the file,
and one :class:`~exchange.models.ContextValue` per LA, period and variable it covers, replacing
any earlier value of the same LA, period and variable (values it does not cover are kept).
:func:`demo_context` loads the synthetic context through the same path when none is loaded.

Reading — :func:`context_frame` (every value, for the comparisons' "similar challenges" sets),
:func:`context_for` (one LA's values with their labels, shown beside its comparisons) and
:func:`datasets`. Context figures are published statistics (ONS, DfE, MHCLG), so any signed-in
user may read any LA's; the audit log still never holds a value, only counts and names.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sqlalchemy import delete, func, insert, select
from sqlalchemy.orm import Session

from exchange import audit
from exchange.db import one_transaction
from exchange.models import ContextDataset, ContextValue, Organisation, OrganisationKind
from exchange.security.policy import Permission, Principal, allowed
from schemas.context import CONTEXT_VARIABLES, ContextFileError, read_context
from schemas.reference import UnknownCodeError, load_reference

__all__ = [
    "CONTEXT_COLUMNS",
    "LOADED",
    "REJECTED",
    "ContextFileError",
    "UnknownCodeError",
    "context_for",
    "context_frame",
    "current_counts",
    "current_la_code",
    "datasets",
    "demo_context",
    "home_la_code",
    "load_context",
]

LOADED = "context_loaded"
REJECTED = "context_rejected"
CONTEXT_COLUMNS = ("la_code", "period", "variable", "value")
"""The columns of :func:`context_frame` (``workers.analytics.similar.ContextFrame``)."""
DEMO_FILENAME = "synthetic-context-seed{seed}.csv"


def _authorise(actor: Principal, permission: Permission) -> None:
    if not allowed(actor, permission):
        raise PermissionError(f"{actor.label} may not do this ({permission.value})")


# ------------------------------------------------------------------------------------ loading


def _reject(
    session: Session, actor: Principal, name: str, digest: str, error: ContextFileError
) -> None:
    rules: dict[str, int] = {}
    for problem in error.problems:
        rules[problem.rule] = rules.get(problem.rule, 0) + 1
    with one_transaction(session):
        audit.record_by(
            session,
            REJECTED,
            actor,
            outcome="refused",
            target_type="context_file",
            target_id=name,
            details={
                "filename": name,
                "sha256": digest,
                "problems": len(error.problems),
                "problems_by_rule": dict(sorted(rules.items())),
            },
        )


def load_context(session: Session, actor: Principal, data: bytes, filename: str) -> ContextDataset:
    """Validate and store a context file (administrators only); returns its dataset.

    Raises ``PermissionError`` for anyone else (nothing is read or recorded), and
    :class:`~schemas.context.ContextFileError` (``.problems``: file, row, column, value and rule
    of each) when the file is not valid: then nothing is stored but the rejection's audit event.
    """
    _authorise(actor, Permission.ADMINISTER)
    name = Path(filename).name or "context file"
    digest = hashlib.sha256(data).hexdigest()
    try:
        values = read_context(data, name)
    except ContextFileError as error:
        _reject(session, actor, name, digest, error)
        raise
    periods = sorted(values["period"].unique().tolist())
    variables = [v for v in CONTEXT_VARIABLES if v in set(values["variable"])]
    rows = values[["la_code", "period"]].drop_duplicates()
    with one_transaction(session):
        dataset = ContextDataset(
            filename=name,
            sha256=digest,
            periods=periods,
            variables=variables,
            row_count=len(rows),
            loaded_by=actor.user_id,
            loaded_by_label=actor.label,
        )
        session.add(dataset)
        session.flush()
        replaced = 0
        # Core statements run at once, in order: the covered values go before the new ones
        # arrive, so the unique (la_code, period, variable) key never sees both.
        for (period, variable), group in values.groupby(["period", "variable"], sort=True):
            result = session.execute(
                delete(ContextValue).where(
                    ContextValue.period == period,
                    ContextValue.variable == variable,
                    ContextValue.la_code.in_(group["la_code"].tolist()),
                )
            )
            replaced += result.rowcount or 0
        session.execute(
            insert(ContextValue),
            [
                {
                    "dataset_id": dataset.id,
                    "la_code": la_code,
                    "period": period,
                    "variable": variable,
                    "value": None if pd.isna(value) else float(value),
                }
                for la_code, period, variable, value in values[list(CONTEXT_COLUMNS)].itertuples(
                    index=False
                )
            ],
        )
        missing = int(values["value"].isna().sum())
        audit.record_by(
            session,
            LOADED,
            actor,
            target_type="context_dataset",
            target_id=dataset.id,
            details={
                "filename": name,
                "sha256": digest,
                "periods": periods,
                "variables": variables,
                "las": int(values["la_code"].nunique()),
                "rows": len(rows),
                "stored": len(values),
                "missing": missing,
                "replaced": replaced,
            },
        )
    # Context feeds the similar-challenges sets of every LA: recompute once it is committed.
    from exchange.actions.refresh import request_comparisons

    request_comparisons(session, requested_by=actor.user_id)
    return dataset


def demo_context(session: Session, actor: Principal, seed: int, periods: Sequence[int]) -> int:
    """Load the synthetic context (:func:`schemas.synth.context`) for ``periods`` through
    :func:`load_context`, unless a context dataset is already loaded. Returns the number of
    values stored (0 when there was nothing to do), so running the demo twice loads it once."""
    from schemas.synth import context as synthetic_context

    _authorise(actor, Permission.ADMINISTER)
    if session.scalar(select(func.count(ContextDataset.id))):
        return 0
    frame = synthetic_context(seed, list(periods))
    data = frame.to_csv(index=False, lineterminator="\n").encode("utf-8")
    dataset = load_context(session, actor, data, DEMO_FILENAME.format(seed=seed))
    return int(
        session.scalar(
            select(func.count(ContextValue.id)).where(ContextValue.dataset_id == dataset.id)
        )
        or 0
    )


# ------------------------------------------------------------------------------------ reading


def context_frame(session: Session) -> pd.DataFrame:
    """Every context value, all periods: columns la_code, period, variable, value (float, NaN
    where not available), as ``workers.analytics.similar.ContextFrame`` expects."""
    result = session.execute(
        select(
            ContextValue.la_code, ContextValue.period, ContextValue.variable, ContextValue.value
        ).order_by(ContextValue.period, ContextValue.la_code, ContextValue.variable)
    )
    rows = result.all()
    frame = pd.DataFrame(
        {
            "la_code": pd.Series([r[0] for r in rows], dtype="str"),
            "period": pd.Series([r[1] for r in rows], dtype="str"),
            "variable": pd.Series([r[2] for r in rows], dtype="str"),
            "value": pd.Series(
                [float("nan") if r[3] is None else r[3] for r in rows], dtype="float64"
            ),
        }
    )
    return frame


def current_la_code(code: str) -> str:
    """An LA's current GSS code (its organisation's) from any of its old or GSS codes;
    :class:`~schemas.reference.UnknownCodeError` if no LA has the code."""
    reference = load_reference()
    record = reference.la(code.strip())
    if record.old_la_code is None:
        return record.new_la_code
    return reference.la(record.old_la_code).new_la_code


def context_for(session: Session, la_code: str) -> pd.DataFrame:
    """One LA's context values, every period: columns period, variable, label, unit, value
    (NaN where not available), source, dataset_id, filename, loaded_at; ordered by variable
    (as :data:`~schemas.context.CONTEXT_VARIABLES` lists them), then period.

    ``la_code``: any old or GSS code of the LA. Raises
    :class:`~schemas.reference.UnknownCodeError` for a code no LA has. Context figures are
    published: any signed-in user may see any LA's.
    """
    code = current_la_code(la_code)
    rows = session.execute(
        select(
            ContextValue.period,
            ContextValue.variable,
            ContextValue.value,
            ContextValue.dataset_id,
            ContextDataset.filename,
            ContextDataset.created_at,
        )
        .join(ContextDataset, ContextDataset.id == ContextValue.dataset_id)
        .where(ContextValue.la_code == code)
    ).all()
    columns = [
        "period",
        "variable",
        "label",
        "unit",
        "value",
        "source",
        "dataset_id",
        "filename",
        "loaded_at",
    ]
    order = {name: i for i, name in enumerate(CONTEXT_VARIABLES)}
    records = []
    for period, variable, value, dataset_id, filename, loaded_at in rows:
        spec = CONTEXT_VARIABLES.get(variable)
        records.append(
            {
                "period": period,
                "variable": variable,
                "label": spec.label if spec else variable,
                "unit": spec.unit if spec else "",
                "value": float("nan") if value is None else float(value),
                "source": spec.source if spec else "",
                "dataset_id": dataset_id,
                "filename": filename,
                "loaded_at": loaded_at,
            }
        )
    frame = pd.DataFrame(records, columns=columns)
    if frame.empty:
        return frame.astype({"period": "str", "variable": "str", "value": "float64"})
    frame["_order"] = frame["variable"].map(order).fillna(len(order))
    frame = frame.sort_values(["_order", "period"], kind="stable").drop(columns="_order")
    return frame.reset_index(drop=True)


def home_la_code(session: Session, principal: Principal | None) -> str | None:
    """The current GSS code of the principal's own LA, or None (not an LA's user)."""
    if principal is None or principal.organisation_id is None:
        return None
    organisation = session.get(Organisation, principal.organisation_id)
    if organisation is None or organisation.kind is not OrganisationKind.LOCAL_AUTHORITY:
        return None
    return organisation.new_la_code


def datasets(session: Session) -> list[ContextDataset]:
    """Every context dataset loaded, newest first."""
    return list(
        session.scalars(
            select(ContextDataset).order_by(
                ContextDataset.created_at.desc(), ContextDataset.id.desc()
            )
        )
    )


def current_counts(session: Session) -> dict[int, int]:
    """How many of each dataset's values are still current (not replaced by a later file)."""
    rows = session.execute(
        select(ContextValue.dataset_id, func.count(ContextValue.id)).group_by(
            ContextValue.dataset_id
        )
    )
    return {dataset_id: count for dataset_id, count in rows}

"""Sharing settings: what each LA shares, per domain and per indicator (seed 1.2: the LA decides).

Reading: :func:`effective_scopes` gives every catalogue indicator's scope for an LA (indicator
override, else domain setting, else private); :func:`sharing_summary` counts them per domain.
Whether a principal may see a value is decided in ``exchange.security.principals.visible_value``,
which combines these scopes with the policy; nothing else should interpret scopes.

Writing: :func:`set_domain_scope`, :func:`set_indicator_scope` and :func:`update_sharing` (a
whole form at once) each run in ONE transaction on the given session (committed on success,
rolled back on any error) with one ``sharing_changed`` audit event per setting that actually
changed. Setting a value to what it already is changes nothing and records nothing. A principal
that may not submit for the LA gets ``PermissionError``; the refused attempt is itself audited
(outcome ``denied``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from exchange import audit
from exchange.db import one_transaction
from exchange.models.organisation import Organisation, OrganisationKind
from exchange.models.sharing import SharingSetting
from exchange.security.policy import Permission, Principal, Scope, may_act_for
from schemas.catalogue import load_catalogue

__all__ = [
    "AUDIT_ACTION",
    "DEFAULT_SCOPE",
    "StoredSettings",
    "effective_scope",
    "effective_scopes",
    "set_domain_scope",
    "set_indicator_scope",
    "sharing_summary",
    "stored_settings",
    "update_sharing",
]

AUDIT_ACTION = "sharing_changed"
DEFAULT_SCOPE = Scope.PRIVATE


class StoredSettings(NamedTuple):
    """What the LA has set, as stored: domain-level scopes and per-indicator overrides.

    A domain or indicator missing from these maps has no row (domain: default private;
    indicator: follows its domain)."""

    domains: dict[str, Scope]
    overrides: dict[str, Scope]


def stored_settings(session: Session, organisation_id: int) -> StoredSettings:
    rows = session.scalars(
        select(SharingSetting).where(SharingSetting.organisation_id == organisation_id)
    ).all()
    domains = {r.domain: Scope(r.scope) for r in rows if r.indicator_id is None}
    overrides = {r.indicator_id: Scope(r.scope) for r in rows if r.indicator_id is not None}
    return StoredSettings(domains, overrides)


def effective_scopes(session: Session, organisation_id: int) -> dict[str, Scope]:
    """Every catalogue indicator's scope for this LA: override > domain setting > private."""
    stored = stored_settings(session, organisation_id)
    return {
        indicator_id: stored.overrides.get(
            indicator_id, stored.domains.get(indicator.domain, DEFAULT_SCOPE)
        )
        for indicator_id, indicator in load_catalogue().indicators.items()
    }


def effective_scope(session: Session, organisation_id: int, indicator_id: str) -> Scope:
    """One indicator's scope for this LA. An indicator not in the catalogue is private: an
    unknown value is never shared (fail closed)."""
    indicator = load_catalogue().indicators.get(indicator_id)
    if indicator is None:
        return DEFAULT_SCOPE
    rows = session.execute(
        select(SharingSetting.indicator_id, SharingSetting.scope).where(
            SharingSetting.organisation_id == organisation_id,
            SharingSetting.domain == indicator.domain,
            (SharingSetting.indicator_id == indicator_id) | SharingSetting.indicator_id.is_(None),
        )
    ).all()
    found = {row.indicator_id: Scope(row.scope) for row in rows}
    return found.get(indicator_id, found.get(None, DEFAULT_SCOPE))


def sharing_summary(session: Session, organisation_id: int) -> dict[str, dict[Scope, int]]:
    """For each catalogue domain (in table order), how many of its indicators are shared at
    each scope, every scope present (zero included)."""
    catalogue = load_catalogue()
    scopes = effective_scopes(session, organisation_id)
    counts: dict[str, Counter[Scope]] = {d: Counter() for d in catalogue.domains}
    for indicator_id, scope in scopes.items():
        counts[catalogue.indicators[indicator_id].domain][scope] += 1
    ordered = sorted(catalogue.domains.values(), key=lambda d: d.table)
    return {d.id: {s: counts[d.id][s] for s in Scope} for d in ordered}


def _authorise(session: Session, principal: Principal, organisation_id: int) -> None:
    """Raise PermissionError unless ``principal`` may change this LA's sharing; the refusal is
    audited in its own transaction (nothing else is written)."""
    if may_act_for(principal, organisation_id, Permission.LA_SUBMIT):
        return
    with one_transaction(session):
        audit.record(
            session,
            AUDIT_ACTION,
            actor_label=principal.label,
            actor_user_id=principal.user_id,
            organisation_id=organisation_id,
            target_type="sharing",
            outcome="denied",
        )
    raise PermissionError("not allowed to change this local authority's sharing settings")


def _lock_la(session: Session, organisation_id: int) -> None:
    """Check the organisation is an LA, locking its row so that concurrent changes to its
    sharing queue up instead of racing (FOR NO KEY UPDATE: foreign-key checks still pass)."""
    org = session.execute(
        select(Organisation)
        .where(Organisation.id == organisation_id)
        .with_for_update(key_share=True)
    ).scalar_one_or_none()
    if org is None or org.kind is not OrganisationKind.LOCAL_AUTHORITY:
        raise ValueError(f"organisation {organisation_id} is not a local authority")


def _scope(value: Scope | str) -> Scope:
    try:
        return Scope(value)
    except ValueError:
        raise ValueError(f"unknown sharing scope {value!r}") from None


def _set(
    session: Session,
    principal: Principal,
    organisation_id: int,
    domain: str,
    indicator_id: str | None,
    new: Scope | None,
) -> bool:
    """Store one setting and audit it, inside the caller's transaction; False if unchanged.

    ``new`` None removes the row (only for overrides: a domain always has a scope)."""
    row = session.execute(
        select(SharingSetting).where(
            SharingSetting.organisation_id == organisation_id,
            SharingSetting.domain == domain,
            SharingSetting.indicator_id.is_(None)
            if indicator_id is None
            else SharingSetting.indicator_id == indicator_id,
        )
    ).scalar_one_or_none()
    old = Scope(row.scope) if row is not None else None
    if indicator_id is None and old is None:
        # A missing domain row already means private: storing private changes nothing.
        old = DEFAULT_SCOPE
    if old == new:
        return False
    if new is None:
        session.delete(row)
    elif row is None:
        session.add(
            SharingSetting(
                organisation_id=organisation_id,
                domain=domain,
                indicator_id=indicator_id,
                scope=new.value,
                updated_by=principal.user_id,
            )
        )
    else:
        row.scope, row.updated_by = new.value, principal.user_id
    audit.record(
        session,
        AUDIT_ACTION,
        actor_label=principal.label,
        actor_user_id=principal.user_id,
        organisation_id=organisation_id,
        target_type="sharing",
        target_id=indicator_id or domain,
        details={
            "domain": domain,
            "indicator_id": indicator_id,
            "old": None if old is None else old.value,
            "new": None if new is None else new.value,
        },
    )
    return True


def update_sharing(
    session: Session,
    principal: Principal,
    organisation_id: int,
    *,
    domains: Mapping[str, Scope | str] | None = None,
    indicators: Mapping[str, Scope | str | None] | None = None,
) -> int:
    """Apply several settings in ONE transaction; returns how many changed.

    ``domains`` maps domain id → scope; ``indicators`` maps indicator id → scope, or None to
    remove the override. Everything is checked before anything is written: an unknown domain,
    indicator or scope raises ValueError and nothing changes.
    """
    _authorise(session, principal, organisation_id)
    catalogue = load_catalogue()
    domains, indicators = dict(domains or {}), dict(indicators or {})
    if unknown := sorted(set(domains) - set(catalogue.domains)):
        raise ValueError(f"unknown domain(s): {', '.join(unknown)}")
    if unknown := sorted(set(indicators) - set(catalogue.indicators)):
        raise ValueError(f"unknown indicator(s): {', '.join(unknown)}")
    domain_scopes = {d: _scope(s) for d, s in domains.items()}
    overrides = {i: None if s is None else _scope(s) for i, s in indicators.items()}
    changed = 0
    with one_transaction(session):
        _lock_la(session, organisation_id)
        for domain, scope in domain_scopes.items():
            changed += _set(session, principal, organisation_id, domain, None, scope)
        for indicator_id, override in overrides.items():
            domain = catalogue.indicators[indicator_id].domain
            changed += _set(session, principal, organisation_id, domain, indicator_id, override)
    return changed


def set_domain_scope(
    session: Session, principal: Principal, organisation_id: int, domain: str, scope: Scope | str
) -> bool:
    """Set a domain's scope for the LA (its indicators without an override follow it)."""
    return bool(update_sharing(session, principal, organisation_id, domains={domain: scope}))


def set_indicator_scope(
    session: Session,
    principal: Principal,
    organisation_id: int,
    indicator_id: str,
    scope: Scope | str | None,
) -> bool:
    """Override one indicator's scope, or with ``scope=None`` remove the override (it then
    follows its domain)."""
    return bool(
        update_sharing(session, principal, organisation_id, indicators={indicator_id: scope})
    )

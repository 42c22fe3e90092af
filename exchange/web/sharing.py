"""Sharing settings: the signed-in user's own LA decides how widely each domain, and optionally
each indicator, is shared (private / alliance / national).

One form per domain: the domain's scope as radios and, inside a GOV.UK details component (no
JavaScript needed), one select per indicator to override it. Saving a form applies that domain's
settings in one transaction (:func:`exchange.actions.sharing.update_sharing`), which audits each
change. LA viewers see the same settings read-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from exchange.actions.sharing import stored_settings, update_sharing
from exchange.extensions import db
from exchange.models.organisation import Organisation
from exchange.security.auth import current_principal
from exchange.security.policy import Permission, Principal, Scope, may_act_for, requires
from exchange.security.principals import owner_alliance_ids
from schemas.catalogue import Domain, Indicator, load_catalogue

bp = Blueprint("sharing", __name__, url_prefix="/sharing")

SCOPE_LABELS = {
    Scope.PRIVATE: "Private",
    Scope.ALLIANCE: "Alliance",
    Scope.NATIONAL: "National",
}
SCOPE_HINTS = {
    Scope.PRIVATE: "Only people in your local authority.",
    Scope.ALLIANCE: "Local authorities in your alliances, and the alliances' viewers.",
    Scope.NATIONAL: "Every local authority in the exchange, and national analysts.",
}
FOLLOW_DOMAIN = ""  # the override select's value for "no override: same as the domain"
OVERRIDE_PREFIX = "override-"


@dataclass(frozen=True)
class IndicatorRow:
    indicator: Indicator
    override: Scope | None
    effective: Scope


@dataclass(frozen=True)
class DomainSection:
    domain: Domain
    scope: Scope
    rows: list[IndicatorRow]

    @property
    def override_count(self) -> int:
        return sum(1 for r in self.rows if r.override is not None)

    def count(self, scope: Scope) -> int:
        return sum(1 for r in self.rows if r.effective is scope)


def _signed_in_la() -> tuple[Principal, Organisation]:
    """The signed-in principal and their own LA. The guard has already required LA_VIEW (or
    LA_SUBMIT); this checks again rather than trust that every route kept its marker."""
    principal = current_principal()
    org_id = principal.organisation_id if principal is not None else None
    if (
        principal is None
        or org_id is None
        or not may_act_for(principal, org_id, Permission.LA_VIEW)
    ):
        abort(403)
    org = db.session.get(Organisation, org_id)
    if org is None or not org.is_la:
        abort(403)
    return principal, org


def _sections(organisation_id: int) -> list[DomainSection]:
    catalogue = load_catalogue()
    stored = stored_settings(db.session, organisation_id)
    sections = []
    for domain in sorted(catalogue.domains.values(), key=lambda d: d.table):
        scope = stored.domains.get(domain.id, Scope.PRIVATE)
        rows = [
            IndicatorRow(i, stored.overrides.get(i.id), stored.overrides.get(i.id, scope))
            for i in catalogue.by_domain(domain.id)
        ]
        sections.append(DomainSection(domain, scope, rows))
    return sections


def _alliance_names(organisation_id: int) -> list[str]:
    ids = owner_alliance_ids(db.session, organisation_id)
    if not ids:
        return []
    return list(
        db.session.scalars(
            select(Organisation.name).where(Organisation.id.in_(ids)).order_by(Organisation.name)
        )
    )


def _render(
    principal: Principal,
    org: Organisation,
    *,
    errors: list[tuple[str, str]] | None = None,
    submitted: dict[str, str] | None = None,
    error_domain: str | None = None,
) -> ResponseReturnValue:
    """The page; after a failed POST, ``submitted`` holds the form's values to show again."""
    page = render_template(
        "sharing/settings.html",
        organisation=org,
        sections=_sections(org.id),
        alliances=_alliance_names(org.id),
        can_edit=may_act_for(principal, org.id, Permission.LA_SUBMIT),
        scopes=list(Scope),
        scope_labels=SCOPE_LABELS,
        scope_hints=SCOPE_HINTS,
        follow_domain=FOLLOW_DOMAIN,
        override_prefix=OVERRIDE_PREFIX,
        errors=errors or [],
        error_fields={field for field, _ in errors or []},
        submitted=submitted or {},
        error_domain=error_domain,
    )
    return page, 400 if errors else 200


@bp.get("")
@requires(Permission.LA_VIEW)
def settings() -> ResponseReturnValue:
    principal, org = _signed_in_la()
    return _render(principal, org)


@bp.post("")
@requires(Permission.LA_SUBMIT)
def save() -> ResponseReturnValue:
    principal, org = _signed_in_la()
    catalogue = load_catalogue()
    domain = catalogue.domains.get(request.form.get("domain", ""))
    if domain is None:
        abort(400)  # only a tampered form names no domain or an unknown one

    errors: list[tuple[str, str]] = []
    scope_value = request.form.get("scope", "")
    if scope_value not in set(Scope):
        errors.append(
            (f"{domain.id}-scope", f"Select who can see the indicators of ‘{domain.name}’")
        )
    overrides: dict[str, Scope | None] = {}
    for indicator in catalogue.by_domain(domain.id):
        field = OVERRIDE_PREFIX + indicator.id
        if field not in request.form:
            continue  # not submitted: leave that indicator's setting as it is
        value = request.form[field]
        if value == FOLLOW_DOMAIN:
            overrides[indicator.id] = None
        elif value in set(Scope):
            overrides[indicator.id] = Scope(value)
        else:
            errors.append((field, f"Select who can see ‘{indicator.text}’"))
    if errors:
        return _render(
            principal, org, errors=errors, submitted=request.form.to_dict(), error_domain=domain.id
        )

    try:
        changed = update_sharing(
            db.session,
            principal,
            org.id,
            domains={domain.id: Scope(scope_value)},
            indicators=overrides,
        )
    except PermissionError:
        abort(403)
    if changed:
        flash(f"Sharing settings for ‘{domain.name}’ saved.", "success")
    else:
        flash(f"Sharing settings for ‘{domain.name}’ were already as submitted.", "success")
    return redirect(url_for(".settings", _anchor=f"domain-{domain.id}"), code=303)

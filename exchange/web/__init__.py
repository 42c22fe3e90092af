"""Server-rendered portal: one blueprint module per area."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from . import (
        admin,
        alliance,
        auth,
        catalogue,
        comparisons,
        context,
        custom_sets,
        errors,
        jobs,
        journeys,
        progress,
        sharing,
        submissions,
        validate,
    )

    app.register_blueprint(auth.bp)
    app.register_blueprint(catalogue.bp)
    app.register_blueprint(validate.bp)
    app.register_blueprint(sharing.bp)
    app.register_blueprint(submissions.bp)
    app.register_blueprint(comparisons.bp)
    app.register_blueprint(custom_sets.bp)
    app.register_blueprint(progress.bp)
    app.register_blueprint(alliance.bp)
    app.register_blueprint(context.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(jobs.bp)
    app.register_blueprint(journeys.bp)
    errors.init_app(app)

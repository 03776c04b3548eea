"""The web app: Flask app factory, blueprints, templates (pages and JSON API).

``create_app(config)`` takes a dict: the database URL under ``SANCTIONS_DB``
(default: the environment's ``SANCTIONS_DB``, then the CLI's default SQLite
file) plus any Flask setting.  Blueprints are registered from one list,
``BLUEPRINTS``, so that another area (the officers' workspace) adds its own by
appending to it, without touching the others.

Views read only through the read layer (``sanctions.queries``,
``sanctions.search``, ``sanctions.coordination``): a page and its ``/api/``
twin call the same function, so they can never disagree.
"""
from __future__ import annotations

import datetime as dt
import os
from typing import Any

from flask import Flask
from flask.json.provider import DefaultJSONProvider

from sanctions import db
from web import errors, database
from web import admin, auth, dashboard, gaps, review, target_gaps
from web.views import api, coordination, designations, search, sources, targets

# Every blueprint of the app, in registration order.  Append new areas here.
BLUEPRINTS = [search.bp, targets.bp, designations.bp, coordination.bp, sources.bp, api.bp]
# The officers' workspace (issue 11): sign-in, gaps, review queue, dashboard, audit.
BLUEPRINTS += [auth.bp, gaps.bp, review.bp, dashboard.bp, admin.bp, target_gaps.bp]

# Links of the header's navigation: (endpoint, label).  Signed-in links go in
# the template slot ``templates/_nav_account.html`` instead.
NAV_LINKS = [
    ("search.page", "Search"),
    ("coordination.page", "Coordination"),
    ("sources.page", "Sources"),
]


class JSONProvider(DefaultJSONProvider):
    """ISO dates in every JSON answer (Flask's default is the HTTP date format)."""

    sort_keys = False
    ensure_ascii = False

    @staticmethod
    def default(o):
        if isinstance(o, (dt.date, dt.datetime)):
            return o.isoformat()
        return DefaultJSONProvider.default(o)


class RegistryApp(Flask):
    json_provider_class = JSONProvider


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = RegistryApp(__name__)
    app.config.update(
        SANCTIONS_DB=db.database_url(None),
        JSON_SORT_KEYS=False,
        SECRET_KEY=os.environ.get("SANCTIONS_SECRET_KEY") or os.urandom(32),
    )
    app.config.update(config or {})
    database.init_app(app)
    errors.init_app(app)
    auth.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.context_processor
    def navigation() -> dict[str, Any]:
        return {"nav_links": NAV_LINKS}

    return app

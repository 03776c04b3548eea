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

import os
from typing import Any

from flask import Flask

from sanctions import db
from web import errors, database
from web.views import api, coordination, designations, search, sources, targets

# Every blueprint of the app, in registration order.  Append new areas here.
BLUEPRINTS = [search.bp, targets.bp, designations.bp, coordination.bp, sources.bp, api.bp]

# Links of the header's navigation: (endpoint, label).  Signed-in links go in
# the template slot ``templates/_nav_account.html`` instead.
NAV_LINKS = [
    ("search.page", "Search"),
    ("coordination.page", "Coordination"),
    ("sources.page", "Sources"),
]


def create_app(config: dict[str, Any] | None = None) -> Flask:
    app = Flask(__name__)
    app.config.update(
        SANCTIONS_DB=db.database_url(None),
        JSON_SORT_KEYS=False,
        MAX_QUERY_LENGTH=500,
        SECRET_KEY=os.environ.get("SANCTIONS_SECRET_KEY") or os.urandom(32),
    )
    app.config.update(config or {})
    app.json.sort_keys = False
    app.json.ensure_ascii = False
    database.init_app(app)
    errors.init_app(app)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)

    @app.context_processor
    def navigation() -> dict[str, Any]:
        return {"nav_links": NAV_LINKS}

    return app

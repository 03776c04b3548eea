"""The JSON API under /api/: the same read-layer functions as the pages."""
from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api")

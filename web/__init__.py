"""The web app: Flask app factory, blueprints, templates (pages and JSON API)."""

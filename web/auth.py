"""Sign-in, roles and CSRF for the officers' workspace.

- Browser sessions: Flask-Login over Flask's signed session cookie (HttpOnly,
  SameSite=Lax; ``SESSION_COOKIE_SECURE`` on behind HTTPS).  The account is
  re-read from the database on every request, so a disabled user or a changed
  role takes effect at the next click, not when the cookie expires.
- Scripts: ``Authorization: Bearer <token>`` (``sanctions user token NAME``).
  A browser never sends that header by itself, so token requests need no CSRF
  token; every other write (any POST through these blueprints) must carry one.
- Roles: ``require("officer")`` on a view.  Anonymous: a sign-in redirect for
  pages, 401 for ``/api/``; signed in without the role: 403.
- ``PUBLIC_READ_REQUIRES_SIGNIN`` (default False; env ``SANCTIONS_PUBLIC_READ_REQUIRES_SIGNIN=1``)
  puts the public read pages (search, target, coordination, sources) behind sign-in too.
"""
from __future__ import annotations

import functools
import os
from urllib.parse import urlsplit

from flask import Blueprint, Flask, current_app, g, redirect, render_template, request, url_for
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, UserMixin, current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, CSRFProtect

from sanctions import users
from web import database, errors
from web.errors import UserError

bp = Blueprint("auth", __name__)
csrf = CSRFProtect()
login_manager = LoginManager()
# The read side's blueprints; behind sign-in only when the setting says so.
PUBLIC_BLUEPRINTS = {"search", "targets", "designations", "coordination", "sources", "api"}
WORKSPACE_API_PREFIXES = ("/api/gaps", "/api/pairs", "/api/review", "/api/dashboard", "/api/audit")


class TokenAwareSessionInterface(SecureCookieSessionInterface):
    """No session cookie for a request signed with an API token: a script's token is its
    identity on every request, and a cookie from one request would otherwise shadow it
    (Flask-Login reads the session before the token)."""

    def save_session(self, app, session, response):
        if g.get("token_user") or g.get("bad_token"):
            return None
        return super().save_session(app, session, response)


class WebUser(UserMixin):
    """Flask-Login's view of an ``Account``."""

    def __init__(self, account: users.Account):
        self.account = account
        self.id = account.id
        self.name = account.name
        self.role = account.role

    def can(self, role: str) -> bool:
        return self.account.can(role)


def init_app(app: Flask) -> None:
    # Flask's defaults leave SameSite unset: the workspace's cookies are never sent by other sites' forms.
    for name in ("SESSION_COOKIE", "REMEMBER_COOKIE"):
        app.config[f"{name}_HTTPONLY"] = True
        if not app.config.get(f"{name}_SAMESITE"):
            app.config[f"{name}_SAMESITE"] = "Lax"
    app.config.setdefault("PUBLIC_READ_REQUIRES_SIGNIN",
                          os.environ.get("SANCTIONS_PUBLIC_READ_REQUIRES_SIGNIN", "") in ("1", "true", "yes"))
    # CSRF is checked by the workspace's own before_request (below), so that the public
    # screening endpoint and token-authenticated scripts are not asked for a form token.
    app.config.setdefault("WTF_CSRF_CHECK_DEFAULT", False)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # valid for the session, which is what signs it
    app.session_interface = TokenAwareSessionInterface()
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.signin"
    users.prepare_sign_in()
    login_manager.session_protection = "strong"

    @app.before_request
    def public_read_gate():
        if current_app.config["PUBLIC_READ_REQUIRES_SIGNIN"] and request.blueprint in PUBLIC_BLUEPRINTS \
                and not request.path.startswith(WORKSPACE_API_PREFIXES) and not current_user.is_authenticated:
            return _unauthenticated()

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError):
        return errors._respond(400, "csrf", f"The form's security token is missing or wrong ({exc.description}); "
                                            "reload the page and try again. Nothing was changed.")

    @app.context_processor
    def roles():
        return {"user_can": lambda role: current_user.is_authenticated and current_user.can(role)}


@login_manager.user_loader
def load_user(user_id: str) -> WebUser | None:
    try:
        account = users.account_by_id(database.session(), int(user_id))
    except ValueError:
        return None
    return WebUser(account) if account else None


@login_manager.request_loader
def load_token_user(req) -> WebUser | None:
    header = req.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    account = users.account_for_token(database.session(), header[len("Bearer "):].strip())
    if account is None:
        g.bad_token = True
        return None
    g.token_user = True
    return WebUser(account)


@login_manager.unauthorized_handler
def _unauthenticated():
    if request.path.startswith("/api/"):
        if g.get("bad_token"):
            raise UserError(401, "bad_token", "The API token is wrong, revoked or belongs to a disabled user.")
        raise UserError(401, "unauthenticated", "Sign in (or send an API token) to see this.")
    return redirect(url_for("auth.signin", next=request.full_path.rstrip("?")))


def protect_writes() -> None:
    """CSRF check for a workspace write, unless the request came with a valid API token."""
    if request.method in ("POST", "PUT", "PATCH", "DELETE") and not g.get("token_user"):
        csrf.protect()


def require(role: str):
    """View decorator: signed in (session or token) with ``role`` or above; CSRF on writes."""
    def decorator(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return _unauthenticated()
            if not current_user.can(role):
                raise UserError(403, "forbidden", f"This needs the {role} role; you are signed in as "
                                                  f"{current_user.name} ({current_user.role}).")
            protect_writes()
            return view(*args, **kwargs)
        return wrapped
    return decorator


def actor() -> str:
    """The audit log's actor for this request: the signed-in user's name (``via token`` for scripts)."""
    return current_user.name + (" (token)" if g.get("token_user") else "")


def _safe_next(target: str | None) -> str:
    """Only a path on this site, so the sign-in form cannot be used to send people elsewhere."""
    if not target:
        return url_for("dashboard.page")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("dashboard.page")
    return target


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    if request.method == "GET":
        return render_template("signin.html", next=request.args.get("next", ""), error=None)
    csrf.protect()
    name = (request.form.get("name") or "").strip()[:100]
    password = request.form.get("password") or ""
    try:
        account = users.authenticate(database.engine(), name, password)
    except users.SignInRefused as exc:
        status = 429 if exc.retry_after else 401
        headers = {"Retry-After": str(exc.retry_after)} if exc.retry_after else {}
        return render_template("signin.html", next=request.form.get("next", ""), error=str(exc), name=name), \
            status, headers
    login_user(WebUser(account))
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/signout")
def signout():
    csrf.protect()
    logout_user()
    return redirect(url_for("search.page"))

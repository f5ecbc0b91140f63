"""Signing in and out, the staff accounts (admin) and the audit log (admin)."""

from __future__ import annotations

import logging

from flask import current_app, flash, g, redirect, render_template, request, url_for
from sqlmodel import col, func, select

from bot import audit, metrics, ratelimits, staff
from bot.db import session_scope
from bot.models import StaffAction
from webhooks.console import auth, bp, params
from webhooks.console.params import ID

log = logging.getLogger(__name__)

AUDIT_PAGE = 100


def _safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path, never another site."""
    if target and target.startswith("/console") and not target.startswith("//"):
        return target
    return url_for("console.live")


@bp.route("/signin", methods=["GET", "POST"])
def signin():
    """The sign-in form; a good username and password start a session."""
    if request.method == "GET":
        return render_template("console/signin.html", next=request.args.get("next", ""))
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    settings = current_app.config["SETTINGS"]
    client = request.remote_addr or "unknown"
    refused_by = ratelimits.signin_refusal(client, settings)
    if refused_by is not None:
        _refused("limited", client)
        page = render_template(
            "console/signin.html",
            next=request.form.get("next", ""),
            error="Too many sign-in attempts from here: wait a few minutes.",
        )
        return page, 429
    audit.acting_as(audit.Staff(staff.ANONYMOUS, request.remote_addr))
    found = staff.verify(username, password, client)
    if isinstance(found, staff.Refused):
        _refused(found.why, client)
        page = render_template(
            "console/signin.html", next=request.form.get("next", ""), error=found.message
        )
        return page, 401
    auth.start_session(found)
    metrics.console_signins.labels(outcome="ok").inc()
    return redirect(_safe_next(request.form.get("next")))


def _refused(why: str, client: str) -> None:
    """One log line and one count per refused sign-in (never the typed name or password)."""
    from bot.personal_data import pseudonym

    # One outcome for an unknown name, a disabled account and a wrong password: /metrics may
    # be open (METRICS_TOKEN unset), and must not tell which usernames exist.
    outcome = why if why in ("locked", "limited") else "refused"
    metrics.console_signins.labels(outcome=outcome).inc()
    log.warning("console sign-in refused (%s) from client %s", why, pseudonym(f"client:{client}"))


@bp.post("/signout")
def signout():
    """Sign out of this browser (its session is deleted); with `everywhere=1`, end every
    session of the account."""
    user = g.get("staff")
    if user is not None and request.form.get("everywhere") == "1":
        staff.sign_out_everywhere(user.id)
    auth.end_session()
    flash("Signed out.", "ok")
    return redirect(url_for("console.signin"))


@bp.get("/staff")
@auth.require("admin")
def staff_page():
    """The staff accounts, with forms to add one and change each."""
    return render_template("console/staff.html", users=staff.list_users(), roles=staff.ROLES)


def _staff_change(change, *args, done: str):
    try:
        change(*args)
    except staff.StaffError as exc:
        flash(str(exc), "error")
    else:
        flash(done, "ok")
    return redirect(url_for("console.staff_page"))


def _username(user_id: int) -> str | None:
    return next((u.username for u in staff.list_users() if u.id == user_id), None)


@bp.post("/staff/add")
@auth.require("admin")
def staff_add():
    """Add a staff account."""
    username = request.form.get("username", "").strip()
    role = request.form.get("role", "viewer")
    return _staff_change(
        staff.create_user,
        username,
        request.form.get("password", ""),
        role,
        done=f"Added {username} ({role}).",
    )


@bp.post(f"/staff/<{ID}:user_id>/<action>")
@auth.require("admin")
def staff_change(user_id: int, action: str):
    """Change one account: role, disable, enable, password."""
    username = _username(user_id)
    if username is None:
        flash("No such staff account.", "error")
        return redirect(url_for("console.staff_page"))
    own = user_id == auth.current().id
    if action == "role":
        role = request.form.get("role", "")
        if own and role != "admin":
            flash("You cannot take away your own admin role.", "error")
            return redirect(url_for("console.staff_page"))
        return _staff_change(staff.set_role, username, role, done=f"{username} is now {role}.")
    if action == "disable":
        if own:
            flash("You cannot disable your own account.", "error")
            return redirect(url_for("console.staff_page"))
        return _staff_change(staff.disable, username, done=f"Disabled {username}.")
    if action == "enable":
        return _staff_change(staff.enable, username, done=f"Enabled {username}.")
    if action == "password":
        return _staff_change(
            staff.set_password,
            username,
            request.form.get("password", ""),
            done=f"New password set for {username}; their sessions are ended.",
        )
    flash("Unknown change.", "error")
    return redirect(url_for("console.staff_page"))


@bp.get("/audit")
@auth.require("admin")
def audit_log():
    """Staff actions, newest first, paged."""
    page = params.page()
    with session_scope() as session:
        total = session.exec(select(func.count()).select_from(StaffAction)).one()
        actions = list(
            session.exec(
                select(StaffAction)
                .order_by(col(StaffAction.at).desc(), col(StaffAction.id).desc())
                .offset((page - 1) * AUDIT_PAGE)
                .limit(AUDIT_PAGE)
            ).all()
        )
    return render_template(
        "console/audit.html",
        actions=actions,
        page=page,
        more=page * AUDIT_PAGE < total,
        total=total,
    )

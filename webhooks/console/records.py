"""Reports and their history, failures to retry, residents who stopped, the day's figures."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from sqlmodel import col, func, select

from bot import failures as dead_letters
from bot import figures as day_figures_module
from bot import report_history
from bot.db import session_scope
from bot.models import Contact, Message, Report, ReportState
from bot.ratelimits import sms_alarm
from webhooks.chart import bar_chart_svg
from webhooks.console import auth, bp, params
from webhooks.console.conversations import pseudonym
from webhooks.console.params import ID

REPORTS_PAGE = 50
STOPPED_LIMIT = 500


@bp.get("/reports")
@auth.require("viewer")
def reports():
    """Reports, newest first, filtered by our state, paged."""
    state = request.args.get("state", "")
    if state and state not in [s.value for s in ReportState]:
        state = ""
    page = params.page()
    with session_scope() as session:
        query = select(Report, Contact.channel).join(Contact, Contact.id == Report.contact_id)
        counted = select(func.count()).select_from(Report)
        if state:
            query = query.where(Report.state == state)
            counted = counted.where(Report.state == state)
        total = session.exec(counted).one()
        found = session.exec(
            query.order_by(col(Report.created_at).desc(), col(Report.id).desc())
            .offset((page - 1) * REPORTS_PAGE)
            .limit(REPORTS_PAGE)
        ).all()
    return render_template(
        "console/reports.html",
        rows=found,
        states=[s.value for s in ReportState],
        state=state,
        page=page,
        more=page * REPORTS_PAGE < total,
        total=total,
    )


@bp.get(f"/reports/<{ID}:report_id>")
@auth.require("viewer")
def report(report_id: int):
    """One report: what it says, its number and status at the city, and its history."""
    with session_scope() as session:
        found = session.get(Report, report_id)
        if found is None:
            abort(404)
        contact = session.get(Contact, found.contact_id)
    return render_template(
        "console/report.html",
        report=found,
        channel=contact.channel if contact else "",
        who=pseudonym(contact),
        events=report_history.history(report_id),
        waits=found.state in dead_letters.REPORT_STATES or bool(found.staff_note),
    )


@bp.get("/failures")
@auth.require("viewer")
def failures():
    """Work given up on, each with a Retry button (agents)."""
    return render_template(
        "console/failures.html", failures=dead_letters.list_failures(), alarm=sms_alarm()
    )


@bp.post("/failures/retry")
@auth.require("agent")
def retry():
    """Send one failure (`name`) or every one (`all=1`) back in line."""
    back = request.form.get("back", "")
    target = back if back.startswith("/console/") else url_for("console.failures")
    if request.form.get("all") == "1":
        retried = dead_letters.retry_all()
        flash(f"{len(retried)} sent back in line.", "ok")
        return redirect(target)
    name = request.form.get("name", "")
    try:
        done = dead_letters.retry(name)
    except ValueError as exc:  # malformed, or erased: nothing left to file
        flash(str(exc), "error")
    else:
        if done:
            flash(f"{name} sent back in line.", "ok")
        else:
            flash(f"{name} is not waiting for staff (any more).", "error")
    return redirect(target)


@bp.get("/stopped")
@auth.require("viewer")
def stopped():
    """Residents who opted out, newest first: when they stopped and their last message."""
    with session_scope() as session:
        found = session.exec(
            select(Contact, func.max(Message.created_at))
            .join(Message, Message.contact_id == Contact.id, isouter=True)
            .where(Contact.opted_out == True)  # noqa: E712  (SQL)
            .group_by(Contact.id)
            .order_by(col(Contact.opted_out_at).desc(), func.max(Message.created_at).desc())
            .limit(STOPPED_LIMIT)
        ).all()
    rows = [
        {
            "who": pseudonym(c),
            "channel": c.channel,
            "stopped": c.opted_out_at,
            "last": last,
            "since": c.created_at,
        }
        for c, last in found
    ]
    by_channel: dict[str, int] = {}
    for row in rows:
        by_channel[row["channel"]] = by_channel.get(row["channel"], 0) + 1
    return render_template("console/stopped.html", rows=rows, by_channel=by_channel)


@bp.get("/figures")
@auth.require("viewer")
def figures():
    """The day's figures (`day`=YYYY-MM-DD in CITY_TIMEZONE, today there by default) with a
    chart by local hour."""
    today = datetime.now(ZoneInfo(current_app.config["SETTINGS"].city_timezone)).date()
    asked = request.args.get("day", "")
    day = params.day_within(asked, today) if asked else today
    if day is None:
        flash(
            f"A day is written YYYY-MM-DD, from {params.FIRST_DAY} to tomorrow: here is today.",
            "error",
        )
        day = today
    found = day_figures_module.day_figures(day)
    chart = bar_chart_svg(
        [f"{h:02d}" for h in range(24)], list(found.by_hour), f"Reports by hour on {day}"
    )
    return render_template(
        "console/figures.html",
        figures=found,
        chart=chart,
        day=day,
        before=day - timedelta(days=1),
        after=day + timedelta(days=1) if day < today else None,
    )

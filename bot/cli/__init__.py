"""The `intake311` command: web, worker, cron, failures, sandbox, chat, demo, migrate, telegram,
open311, understanding, forget, keys, messenger, x, mastodon, gazetteer, duplicates, doctor,
figures, staff."""

from __future__ import annotations

import getpass
import importlib
import os
import sys

import click

# Commands whose modules load only when named, so `intake311 worker` starts without them.
LAZY_COMMANDS = {
    "demo": "bot.cli.demo:demo",
    "forget": "bot.cli.privacy:forget",
    "keys": "bot.cli.privacy:keys_group",
    "open311": "bot.cli.open311:open311_group",
    "sandbox": "sandbox.cli:sandbox",
    "telegram": "bot.cli.telegram:telegram_group",
    "translations": "bot.cli.translations:translations",
    "understanding": "bot.cli.understanding:understanding_group",
    "messenger": "bot.cli.messenger:messenger_group",
    "x": "bot.cli.x:x_group",
    "mastodon": "bot.cli.mastodon:mastodon_group",
    "gazetteer": "bot.cli.gazetteer:gazetteer_group",
    "duplicates": "bot.cli.duplicates:duplicates",
    "doctor": "bot.cli.doctor:doctor",
    "figures": "bot.cli.figures:figures",
    "staff": "bot.cli.staff:staff_group",
}


class LazyGroup(click.Group):
    """A group whose LAZY_COMMANDS are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *LAZY_COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS:
            module, _, attr = LAZY_COMMANDS[cmd_name].partition(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, cmd_name)


@click.group(cls=LazyGroup)
def main() -> None:
    """intake311: 311 reports by SMS and chat, filed with the city's Open311 server."""
    from bot.logs import install

    install()  # every command's log lines scrubbed (bot.logs); the long-running ones print them


def _start(process: str) -> None:
    """Logging for a long-running process, then the production checks (exit 2 if refused)."""
    from bot.logs import configure_logging
    from bot.production import RefusedToStart, check_startup
    from bot.settings import get_settings

    settings = get_settings()
    configure_logging(settings)
    try:
        check_startup(settings, process)
    except RefusedToStart as refused:
        click.echo(str(refused), err=True)
        sys.exit(2)


@main.command()
def migrate() -> None:
    """Bring the database to the newest schema."""
    from bot.migrate import upgrade

    _start("migrate")  # 0011 encrypts and hashes with the keys set now: none missing in production
    upgrade()
    click.echo("database is up to date")


@main.command()
@click.option("--host", default="0.0.0.0", show_default=True)
@click.option(
    "--port", default=lambda: int(os.environ.get("PORT", 8000)), show_default="$PORT or 8000"
)
@click.option("--workers", default=2, show_default=True)
def web(host: str, port: int, workers: int) -> None:
    """Serve the webhooks with gunicorn."""
    from bot.production import is_production
    from bot.settings import get_settings

    if is_production(get_settings()):
        _start("web")  # refused here at once, rather than by each gunicorn worker
    from bot import metrics_dir

    metrics_dir.claim("web")  # METRICS_DIR: the web's folder, emptied, named for gunicorn's
    os.execvp(
        sys.executable,
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"{host}:{port}",
            "--workers",
            str(workers),
            "--access-logfile",
            "-",
            # gunicorn 27's control socket is one path per user ($HOME/.gunicorn/gunicorn.ctl):
            # a second server on the machine (another app, a test run) would take it over.
            "--no-control-socket",
            "webhooks:create_app()",
        ],
    )


@main.command()
@click.option("--burst", is_flag=True, help="Stop when the queue is empty.")
@click.option("--simple", is_flag=True, help="Run jobs in this process instead of a fork each.")
@click.option(
    "--processes",
    type=click.IntRange(min=1),
    default=None,
    help="Run this many workers, each running jobs in its own process, supervised by this "
    "one (a worker whose job overruns is killed and replaced): the fast way, the Procfile's.",
)
@click.option(
    "--queue",
    "kinds",
    multiple=True,
    type=click.Choice(["residents", "notices", "city"]),
    help="Serve only these queues (default all, residents first, then status notices): give "
    "the city's Open311 calls workers of their own so a hanging city never slows a reply.",
)
def worker(burst: bool, simple: bool, processes: int | None, kinds: tuple[str, ...]) -> None:
    """Run the jobs (turns, sends, filings), with rq's scheduler for retries.

    The database must be migrated first (`intake311 migrate`, the release step)."""
    from bot import metrics_dir
    from bot.worker import run_pool, run_worker

    kinds = kinds or ("residents", "notices", "city")
    # Before prometheus_client is imported: this command's folder under METRICS_DIR, emptied.
    metrics_dir.claim("worker-" + "-".join(kinds))
    _start("worker")
    if processes is not None:
        if simple:
            raise click.UsageError("--processes runs jobs in its workers' own processes already")
        run_pool(processes, burst=burst, kinds=kinds)
    else:
        run_worker(burst=burst, simple=simple, kinds=kinds)


@main.command()
def cron() -> None:
    """Queue the periodic status check and reconciler."""
    from bot.worker import run_cron

    _start("cron")
    run_cron()


@main.command()
@click.option("--name", default=lambda: getpass.getuser(), help="Who you are on the console.")
@click.option(
    "--timeout",
    default=30.0,
    show_default=True,
    help="Seconds to wait for the bot after each scripted line.",
)
def chat(name: str, timeout: float) -> None:
    """Text the bot from the terminal; with piped input, one reply per output line."""
    from bot.cli.chat import ConsoleChat, run_interactive, run_script, terminal_line
    from bot.migrate import upgrade

    upgrade()
    if sys.stdin.isatty():
        run_interactive(ConsoleChat(name, terminal_line, one_line=False))
        return
    chat = ConsoleChat(name, click.echo, one_line=True)
    settled = run_script(chat, sys.stdin, timeout)
    settled = chat.settle(timeout) and settled
    if not settled:
        raise click.ClickException("the bot did not answer in time (is a worker running?)")


@main.command()
@click.argument("action", required=False, type=click.Choice(["retry", "filed"]))
@click.argument("names", nargs=-1)
@click.option("--all", "every", is_flag=True, help="With retry: every failure.")
def failures(action: str | None, names: tuple[str, ...], every: bool) -> None:
    """List work given up on (reports, sends, turns); `retry NAME...` or `retry --all`;
    `filed report:N REQUEST_ID` when staff found a waiting report at the city."""
    from bot import audit
    from bot.failures import list_failures, mark_filed, retry, retry_all

    audit.acting_as(audit.Staff(f"cli:{getpass.getuser()}"))

    if action is None:
        found = list_failures()
        for failure in found:
            click.echo(
                f"{failure.name:<14} {failure.at:%Y-%m-%d %H:%M}  {failure.what}"
                + (f"\n{'':<14} {failure.error}" if failure.error else "")
                + (f"\n{'':<14} → {failure.hint}" if failure.hint else "")
            )
        click.echo(
            f"{len(found)} failure(s)"
            + ("; retry with: intake311 failures retry NAME" if found else "")
        )
        from bot.ratelimits import sms_alarm

        if alarm := sms_alarm():  # today's texts past SMS_ALARM_PER_DAY
            click.echo(alarm)
        return
    if action == "filed":
        if len(names) != 2 or every:
            raise click.UsageError("filed takes a report's name and the city's request number")
        try:
            done = mark_filed(names[0], names[1])
        except ValueError as exc:
            raise click.UsageError(str(exc)) from exc
        if not done:
            raise click.ClickException(f"{names[0]} does not wait for staff")
        click.echo(f"{names[0]} is filed as {names[1]}; the resident gets the number")
        return
    if every == bool(names):
        raise click.UsageError("retry takes failure names or --all, not both")
    if every:
        retried = retry_all()
    else:
        retried = []
        for name in names:
            try:
                if retry(name):
                    retried.append(name)
            except ValueError as exc:  # malformed, or erased: nothing left to file
                raise click.ClickException(str(exc)) from exc
    skipped = sorted(set(names) - set(retried))
    click.echo(
        f"{len(retried)} sent back in line"
        + (f"; not failed: {', '.join(skipped)}" if skipped else "")
    )

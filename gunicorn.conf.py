"""gunicorn's settings for the web process (the Procfile's `web:` line), each with its reason.

A webhook costs about 2.6 ms of CPU in the worker and spends the rest of its time waiting for
PostgreSQL (one statement in one transaction) and Redis (the inbound limits, the turn's queue):
threads let a worker serve another webhook during those waits, and a worker per core lets
both cores run Python. BENCHMARKS.md has the figures behind these choices.
"""

import os

from gunicorn import glogging

from bot import metrics_dir

# Metrics (bot.metrics): with METRICS_DIR set, the web's processes keep theirs in its "web"
# folder, emptied now, before any worker is forked (a dead process's files would be summed).
metrics_dir.claim("web")

# Where the platform tells us to listen (Heroku-style $PORT); 8000 otherwise.
bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"

# One process per core (the GIL lets a process run Python on one core at a time).
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
# Threads overlap the database and Redis round trips of concurrent webhooks. At most
# bot.db's pool_size (5): every thread has a pooled connection without opening overflow ones.
worker_class = "gthread"
threads = 4

# The providers' own limits on a webhook's answer, from their documentation: Twilio waits 15 s
# in all, the TCP connection included (its error 11205); X asks for an answer within 10 s (its
# webhooks' introduction); Meta's Messenger times a call out after 20 s (the platform's FAQ);
# Telegram states none and retries "a reasonable amount of attempts" (setWebhook). A webhook
# here answers in milliseconds (one statement, one enqueue); 15 s is the longest any of them
# could still be waiting, so neither figure below is worth more.
# A worker silent this long (its main loop, not a single request, under gthread) is restarted.
timeout = 15
# On a deploy or restart, requests in flight get as long as a provider would wait for them
# (systemd's TimeoutStopSec for the web, deploy/systemd/, leaves 5 s above it).
graceful_timeout = 15
# Seconds an idle keep-alive connection (from the platform's router) stays open: a reused
# connection saves a TCP handshake per webhook. gthread parks idle ones in its poller, not on
# a thread; short all the same, as each counts against worker_connections (1000).
keepalive = 5

# No access log: a line per request costs the worker (the scrubbing record factory, a write),
# and its default format carries the client's IP address, a web chat resident's personal data
# (SECURITY.md). The app logs what matters: refused and malformed webhooks, errors. To turn
# it on for a while: GUNICORN_CMD_ARGS="--access-logfile -".
accesslog = None
errorlog = "-"


class Logger(glogging.Logger):
    """gunicorn's own log (gunicorn.error: boots, worker timeouts, crashes) in LOG_FORMAT, as
    the app's lines are (bot.logs): JSON lines in production, gunicorn's text otherwise."""

    def setup(self, cfg):
        super().setup(cfg)
        from bot import logs
        from bot.settings import get_settings

        try:
            settings = get_settings()
        except Exception:  # noqa: BLE001 - the app says what is wrong when it loads
            return
        logs.install(settings)  # the master's records scrubbed too
        if settings.log_format == "json":
            for handler in self.error_log.handlers:
                handler.setFormatter(logs.JsonFormatter())


logger_class = Logger

# No control socket (gunicorn 25+): its default path is one per user, so two instances on a
# machine (the tests, a staging and a production app) would contend for it.
control_socket_disable = True


def child_exit(server, worker):
    """A web worker exited: its live gauges no longer count (bot.metrics_dir)."""
    metrics_dir.mark_dead(worker.pid)

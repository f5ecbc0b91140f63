"""Settings from environment variables (12-factor); every one is documented in the README."""

from __future__ import annotations

import re
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.handoff_hours import parse_hours
from conversations.fitting import MOST
from conversations.segments import segments

# A web origin: scheme, host (a "*." wildcard allowed first), optional port.
_ORIGIN = re.compile(r"https?://(\*\.)?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*(:[0-9]{1,5})?")
# A WhatsApp address as Twilio writes it, and a Content Template's SID.
_WHATSAPP_ADDRESS = re.compile(r"whatsapp:\+[1-9][0-9]{6,14}")
_CONTENT_SID = re.compile(r"HX[0-9a-fA-F]{32}")
# A Graph API version ("v25.0"), and the message tags Messenger takes after its 24-hour window.
_GRAPH_VERSION = re.compile(r"v?[0-9]{1,3}\.[0-9]{1,2}")
# The Messenger tag a notice after the 24-hour window may carry: ACCOUNT_UPDATE ("a change to
# the person's application or account"). Meta's others are refused, for what they are for.
MESSAGE_TAGS = ("ACCOUNT_UPDATE",)
OTHER_MESSAGE_TAGS = {
    "CONFIRMED_EVENT_UPDATE": "reminders of an event the person registered for",
    "POST_PURCHASE_UPDATE": "updates about a purchase",
    "HUMAN_AGENT": "a staff member's own replies, not the bot's notices",
}


class Settings(BaseSettings):
    """All configuration, read from the environment (and an optional .env file)."""

    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str = "sqlite:///var/intake311.sqlite3"
    redis_url: str = "redis://localhost:6379/0"
    queue_name: str = "intake311"

    open311_endpoint: str = "http://127.0.0.1:8311/open311/v2/"
    open311_api_key: str = Field(default="", repr=False)
    open311_jurisdiction_id: str = ""
    open311_profile: str = "sandbox"
    open311_timeout: float = Field(10.0, gt=0, le=600)
    open311_batch_size: int | None = None
    catalog_ttl: int = 3600
    track_interval: int = 300

    twilio_account_sid: str = ""
    twilio_auth_token: str = Field(default="", repr=False)
    twilio_from_number: str = ""
    twilio_messaging_service_sid: str = ""
    twilio_api_base: str = ""
    # Status photos on SMS as MMS (US and Canadian long codes and toll-free numbers send them);
    # false: the photo's link at the end of the text instead.
    twilio_mms: bool = True
    # Hosts, besides Twilio's own media hosts, that a MediaUrl's redirect may lead to
    # (comma-separated names, "*.example.com", or "name:port"): the tests' stand-in redirects
    # to another loopback name. Twilio's credentials never go to them (channels/twilio_media.py).
    twilio_media_hosts: str = ""
    public_base_url: str = ""

    telegram_bot_token: str = Field(default="", repr=False)
    telegram_secret_token: str = Field(default="", repr=False)
    telegram_api_base: str = "https://api.telegram.org"

    # Signs web chat session tokens; unset, the web chat channel is off.
    webchat_secret: str = Field(default="", repr=False)

    geocoder: str = "nominatim"
    geocoder_domain: str = "nominatim.openstreetmap.org"
    geocoder_scheme: str = "https"
    geocoder_user_agent: str = "intake311"
    geocoder_timeout: float = 5.0
    city_bounds: str = ""
    city_name: str = ""
    city_timezone: str = "UTC"
    # The conversation: the city's own catalogues and phrases, the emergency number, and how
    # long a quiet conversation stays open (minutes; 0 keeps it open for ever).
    locale_dir: str = ""
    synonyms_file: str = ""
    emergency_number: str = "911"
    conversation_idle_minutes: int = 30
    # Human handoff (bot/handoff.py): when staff answer residents who ask for a person
    # (bot/handoff_hours.py: "Mon-Fri 08:00-17:00; Sat 09:00-12:00" in CITY_TIMEZONE; empty:
    # always; "off", the default: never, until a city sets its hours, so a city with nobody
    # at the console does not leave residents unanswered; staff can still take any
    # conversation over from the console), what residents are told outside those hours
    # (empty: a text naming them, in their language), and how long a resident waits in hours
    # for staff to take the conversation before the bot takes it back (0: until staff act).
    handoff_hours: str = "off"
    handoff_closed_text: str = ""
    handoff_wait_minutes: int = Field(30, ge=0)
    # A conversation a person took and has not written in for this long goes back to the bot
    # (the resident told); 0: never.
    handoff_agent_idle_hours: int = Field(8, ge=0)
    # Services whose optional questions are asked one by one, comma-separated codes or "*" for
    # all; the others ask only the required questions and offer the optional ones in the summary.
    ask_optional_questions: str = ""
    # How free text is matched to services: "model" adds the bundled sentence-embedding model
    # (bot.understanding) to rapidfuzz and the synonyms; "fuzzy" uses those alone.
    understanding: str = "model"
    # The city's past reports (JSONL of {"service_code", "text"}, `intake311 understanding
    # learn`): the model also asks which services residents' closest past texts were filed under.
    examples_file: str = ""
    # Delivery guarantees (RELIABILITY.md): how often the reconciler runs and when work counts as
    # lost from the queue (grace) or abandoned by a dead worker (stuck_after), in seconds; how
    # Open311 retries back off, and after how long an unfiled report is given up for staff.
    reconcile_interval: int = 60
    reconcile_grace: int = 120
    stuck_after: int = 900
    lock_timeout: int = 300
    retry_base_seconds: float = 30.0
    retry_cap_seconds: float = 3600.0
    report_give_up_hours: float = 72.0
    send_max_attempts: int = 6
    # A text "sending" for less than this may still be on its way (no look-up, no resend yet).
    send_in_flight: int = Field(60, ge=1)
    # Staff pages (/admin): a bearer token; unset keeps them closed.
    admin_token: str = Field(default="", repr=False)
    # The staff console (/console, webhooks/console): the key that signs its session cookies
    # (unset in development: a random one per process, so sessions end when it restarts;
    # production refuses to start without a long one), how long a session may sit idle, the
    # sign-in lockout (bot.signin_locks) and the sign-in attempts allowed per client IP address.
    console_secret_key: str = Field(default="", repr=False)
    console_idle_hours: float = Field(8.0, gt=0)
    # A console session ends this long after sign-in, however busy (bot.console_sessions).
    console_max_session_hours: float = Field(12.0, gt=0)
    # Wrong sign-ins to one username from one client address (IPv6: its /64) lock that name
    # for that address; only CONSOLE_ACCOUNT_LOCKOUT_FAILURES from anywhere lock it for all.
    console_lockout_failures: int = Field(5, ge=1)
    console_lockout_minutes: float = Field(15.0, gt=0)
    console_account_lockout_failures: int = Field(50, ge=1)
    console_signin_limit: str = "10/minute;100/hour"
    # /metrics (webhooks/metrics.py): a bearer token when set; unset, it is open (no personal
    # data in it: counts by channel, outcome and queue).
    metrics_token: str = Field(default="", repr=False)

    # "production" fails closed (bot.production): every enabled channel signed, HTTPS, keys set.
    env: str = "development"
    # Log lines (bot.logs): "json" (one object a line, for a log platform) or "text" (readable);
    # unset: json when ENV=production, text otherwise. LOG_LEVEL: the least level printed.
    log_format: str = ""
    log_level: str = "INFO"
    # Residents' data at rest (bot.personal_data, SECURITY.md): Fernet keys, newest first, for
    # the addresses and contact details we keep; the key of the keyed hashes that find a
    # contact by address and name it in logs. Unset in development: a fixed key, said loudly.
    encryption_keys: str = Field(default="", repr=False)
    lookup_key: str = Field(default="", repr=False)
    # Days a transcript, a raw payload and a closed report's personal data are kept.
    retention_days: int = Field(90, ge=1)

    # --- issue 15, fail closed (bot.production, webhooks.security) ---
    # Proxies in front of the web app whose X-Forwarded-For/-Proto are believed (werkzeug's
    # ProxyFix): 0 believes none, so a request is HTTPS only if it reached us over TLS.
    trust_proxy: int = Field(0, ge=0, le=5)
    # Sites that may show the web chat page in an <iframe> (CSP frame-ancestors, space-separated
    # origins: "https://www.city.gov"); empty: none may.
    webchat_frame_ancestors: str = ""

    @field_validator("env")
    @classmethod
    def _known_env(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"development", "production"}:
            # "prod" or "staging" must not run quietly without the production checks.
            raise ValueError("ENV must be 'production' or 'development'")
        return value

    @field_validator("log_format")
    @classmethod
    def _known_log_format(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"", "json", "text"}:
            raise ValueError("LOG_FORMAT must be 'json' or 'text'")
        return value

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, value: str) -> str:
        value = value.strip().upper()
        if value not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("LOG_LEVEL must be DEBUG, INFO, WARNING, ERROR or CRITICAL")
        return value

    @model_validator(mode="after")
    def _log_format_for_env(self) -> Settings:
        if not self.log_format:
            self.log_format = "json" if self.env == "production" else "text"
        return self

    @field_validator("twilio_messaging_service_sid")
    @classmethod
    def _messaging_service_sid(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"MG[0-9a-fA-F]{32}", value):
            # Twilio refuses every send naming a malformed one (found against Twilio's OpenAPI
            # description, docs/twilio-peer.md): say so at start, not at each send.
            raise ValueError("TWILIO_MESSAGING_SERVICE_SID is MG followed by 32 hex digits")
        return value

    @field_validator("webchat_frame_ancestors")
    @classmethod
    def _origins(cls, value: str) -> str:
        for origin in value.split():
            if not _ORIGIN.fullmatch(origin):
                # It goes into the Content-Security-Policy as it is: nothing but origins.
                raise ValueError(
                    f"WEBCHAT_FRAME_ANCESTORS takes origins like https://www.city.gov, "
                    f"space-separated; not {origin[:60]!r}"
                )
        return " ".join(value.split())

    @field_validator("geocoder")
    @classmethod
    def _known_geocoder(cls, value: str) -> str:
        from bot.geocoders import known  # reads no settings

        value = value.strip().lower()
        if not known(value):
            raise ValueError(
                "GEOCODER must be nominatim, photon, pelias, arcgis, gazetteer, none or "
                f"another service geopy knows; not {value[:40]!r}"
            )
        return value

    @field_validator("understanding")
    @classmethod
    def _known_understanding(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in {"model", "fuzzy"}:
            raise ValueError("UNDERSTANDING must be 'model' or 'fuzzy'")
        return value

    @field_validator("handoff_hours")
    @classmethod
    def _readable_hours(cls, value: str) -> str:
        parse_hours(value)  # ValueError says what is wrong
        return value.strip()

    @field_validator("handoff_closed_text")
    @classmethod
    def _closed_text_fits(cls, value: str) -> str:
        value = value.strip()
        taken = segments(value)
        if value and taken > MOST:
            raise ValueError(
                f"HANDOFF_CLOSED_TEXT takes {taken} SMS segments: at most {MOST} (about "
                f"{MOST * 153} plain characters, {MOST * 67} with accents or non-Latin script)"
            )
        return value

    @field_validator("city_timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"CITY_TIMEZONE {value!r} is not an IANA time zone") from exc
        return value

    @field_validator("open311_profile")
    @classmethod
    def _known_profile(cls, value: str) -> str:
        from bot.open311.profile import load_profile  # the profile module reads no settings

        load_profile(value)  # raises ProfileError (a ValueError) saying what is wrong
        return value

    @field_validator("city_bounds")
    @classmethod
    def _valid_bounds(cls, value: str) -> str:
        if value.strip():
            parse_bounds(value)
        return value.strip()

    @model_validator(mode="after")
    def _coordinates_can_be_found(self) -> Settings:
        from bot.open311.profile import load_profile

        profile = load_profile(self.open311_profile)
        if self.geocoder == "none" and profile.needs_coordinates:
            raise ValueError(
                f"the {profile.name} Open311 profile needs coordinates in every report "
                f"(location = {profile.location!r}); GEOCODER=none cannot place typed addresses: "
                "set GEOCODER=nominatim"
            )
        return self

    def optional_questions(self) -> frozenset[str]:
        """The service codes whose optional questions are asked one by one ("*": all)."""
        return frozenset(c.strip() for c in self.ask_optional_questions.split(",") if c.strip())

    def bounds(self) -> tuple[tuple[float, float], tuple[float, float]] | None:
        """CITY_BOUNDS as ((south, west), (north, east)), or None when unset."""
        return parse_bounds(self.city_bounds) if self.city_bounds else None

    # --- Abuse limits and job timeouts (bot.ratelimits, SECURITY.md) --------------------------
    # Limits in the `limits` library's notation ("10/minute", "60 per hour", several joined by
    # ";"), each a moving window kept in Redis; "" turns one off. A sender past INBOUND_LIMIT_
    # PER_SENDER, or while every sender together is past INBOUND_LIMIT_GLOBAL (then all but
    # senders with only their first 3 texts in their own window, up to as many again), has the
    # message stored unanswered (no turn), and is told once, politely, to wait; then silence
    # until that window passes. REPLY_LIMIT_PER_SENDER caps what one address can be sent
    # (every reply and notice; STOP's confirmation counted but always sent): past it replies
    # are stored, not sent, and one last notice says so. Redis down: every limit lets the
    # message through.
    inbound_limit_per_sender: str = "20/minute;120/hour"
    inbound_limit_global: str = "3000/minute"
    reply_limit_per_sender: str = "100/day"
    # Staff are alerted (one ERROR log line, and `intake311 failures`) when the texts sent on
    # SMS in one day (the city's) pass this; 0: no alarm.
    sms_alarm_per_day: int = Field(2000, ge=0)
    # Seconds a resident's job (a turn, a send) may run before rq stops it; at most half of
    # LOCK_TIMEOUT, so the lock it holds outlives it even when rq has to kill a stuck
    # work-horse (bot.worker). 0: half of LOCK_TIMEOUT (150 s of 300).
    job_timeout: int = Field(0, ge=0)
    # Web chat sessions one client (its IP address, TRUST_PROXY's proxies believed) may start:
    # a session costs nothing to make, and each is a new sender to the inbound limits. Past
    # it, 429 with Retry-After. Redis down: let through.
    webchat_sessions_per_client: str = "10/hour"
    # --- Outbound pacing (bot.pacing, RELIABILITY.md) ------------------------------------------
    # Messages a second each sender may be handed; 0: not paced. SMS: the Twilio sender's rate
    # (one long code in the US about 1, toll-free 3, a short code 100; a Messaging Service the
    # sum of its senders'); Twilio counts segments, so divide by a text's usual segments.
    # Telegram: one bot about 30 a second in all, and about 1 a second in one chat.
    sms_sends_per_second: float = Field(1.0, ge=0)
    telegram_sends_per_second: float = Field(30.0, ge=0)
    telegram_chat_sends_per_second: float = Field(1.0, ge=0)
    # A sender's bucket holds this many seconds of its rate (at least 2 messages): the most
    # sent at once. Waiting sends are released by rq's scheduler once a second, so less than a
    # second's worth would hold the rate back. Status notices leave this share of the bucket
    # (at least one message) to residents' replies.
    pacing_burst: float = Field(1.0, gt=0)
    pacing_reply_reserve: float = Field(0.1, ge=0, lt=1)

    # --- Residents' photos (bot/media) ---------------------------------------------------------
    # Where kept photos live: "local" (MEDIA_DIR) or "s3" (any S3-compatible store, MEDIA_S3_*).
    media_store: str = "local"
    media_dir: str = "var/media"
    media_s3_bucket: str = ""
    media_s3_endpoint_url: str = ""
    media_s3_region: str = ""
    media_s3_prefix: str = ""
    media_s3_access_key_id: str = Field(default="", repr=False)
    media_s3_secret_access_key: str = Field(default="", repr=False)
    # A photo larger than this (bytes, as fetched) or than this many pixels is refused.
    media_max_bytes: int = Field(10 * 1024 * 1024, ge=1024)
    media_max_pixels: int = Field(40_000_000, ge=10_000)
    # Seconds one fetch of a photo may take, and how many tries before it is given up.
    media_fetch_timeout: float = Field(10.0, gt=0, le=120)
    media_fetch_attempts: int = Field(5, ge=1)

    @field_validator("media_store")
    @classmethod
    def _known_media_store(cls, value: str) -> str:
        value = value.strip().lower()
        if value not in ("local", "s3"):
            raise ValueError(f"MEDIA_STORE must be 'local' or 's3', not {value!r}")
        return value

    @model_validator(mode="after")
    def _s3_store_has_a_bucket(self) -> Settings:
        if self.media_store == "s3" and not self.media_s3_bucket.strip():
            raise ValueError("MEDIA_STORE=s3 needs MEDIA_S3_BUCKET")
        return self

    # --- WhatsApp through Twilio (bot/channels/whatsapp.py) ------------------------------------
    # The WhatsApp sender ("whatsapp:+14155238886"); unset, TWILIO_MESSAGING_SERVICE_SID picks
    # the service's WhatsApp sender.
    twilio_whatsapp_from: str = ""
    # Messages a second to hand each WhatsApp sender: Twilio's default throughput is 80 per
    # sender, text and media alike (twilio.com/docs/whatsapp/best-practices-and-faqs, "What is
    # the MPS limit for outbound WhatsApp messages?"); its sandbox number takes one request
    # every 3 seconds. 0: not paced.
    whatsapp_sends_per_second: float = Field(80.0, ge=0)
    # Approved templates (Content SIDs, "HX" + 32 hex digits) for notices sent after WhatsApp's
    # 24-hour window closed, one per kind of notice; their variables are numbered as
    # bot/channels/whatsapp.py TEMPLATE_VARIABLES says. Unset: such a notice is not sent but
    # recorded as failed, for staff (intake311 failures).
    whatsapp_template_filed: str = ""
    whatsapp_template_status: str = ""
    whatsapp_template_delayed: str = ""
    whatsapp_template_saved: str = ""
    whatsapp_template_rejected: str = ""

    @field_validator("twilio_whatsapp_from")
    @classmethod
    def _whatsapp_address(cls, value: str) -> str:
        value = value.strip()
        if value and not _WHATSAPP_ADDRESS.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a WhatsApp sender: 'whatsapp:' and the number with its "
                "country code ('whatsapp:+14155238886')"
            )
        return value

    @field_validator(
        "whatsapp_template_filed",
        "whatsapp_template_status",
        "whatsapp_template_delayed",
        "whatsapp_template_saved",
        "whatsapp_template_rejected",
    )
    @classmethod
    def _content_sid(cls, value: str) -> str:
        value = value.strip()
        if value and not _CONTENT_SID.fullmatch(value):
            raise ValueError(
                f"{value!r} is not a Twilio Content SID ('HX' and 32 hexadecimal digits)"
            )
        return value

    def whatsapp_template(self, kind: str) -> str:
        """The Content SID of the approved template for notices of `kind` ("" when none)."""
        return str(getattr(self, f"whatsapp_template_{kind}", "") or "") if kind else ""

    # --- Facebook Messenger (bot/channels/messenger.py) -----------------------------------------
    # The app's secret (signs every webhook call: X-Hub-Signature-256), the verify token we
    # choose for the webhook's handshake, and the page's access token (the Send API). Unset
    # META_APP_SECRET: every Messenger webhook call is refused (403).
    meta_app_secret: str = Field(default="", repr=False)
    meta_verify_token: str = Field(default="", repr=False)
    meta_page_token: str = Field(default="", repr=False)
    meta_graph_base: str = "https://graph.facebook.com"
    meta_graph_version: str = "v25.0"
    # The message tag a notice about a report goes with after Messenger's 24-hour window
    # (developers.facebook.com/docs/messenger-platform/send-messages/message-tags/); empty:
    # nothing is sent after the window (such a notice is recorded as failed, for staff).
    meta_message_tag: str = "ACCOUNT_UPDATE"
    # Hosts, besides Meta's CDN (*.fbcdn.net, *.fbsbx.com), that a resident's image URL may
    # be on (comma-separated names, "*.example.com", "name:port"; http allowed): the tests'
    # stand-in. No credentials go to any of them.
    meta_media_hosts: str = ""
    # Messages a second from the page in all (Meta's Send API: 300 calls a second per page for
    # text), and to one person (Meta names no number, only that a thread sent too many is
    # limited). 0: not paced.
    messenger_sends_per_second: float = Field(300.0, ge=0)
    messenger_user_sends_per_second: float = Field(1.0, ge=0)

    @field_validator("meta_message_tag")
    @classmethod
    def _message_tag(cls, value: str) -> str:
        value = value.strip().upper()
        if value and value not in MESSAGE_TAGS:
            why = OTHER_MESSAGE_TAGS.get(value, "not a tag Meta names")
            raise ValueError(
                f"META_MESSAGE_TAG must be {' or '.join(MESSAGE_TAGS)} or empty, not {value!r} "
                f"({why}): a city's status update is none of those"
            )
        return value

    @field_validator("meta_graph_version")
    @classmethod
    def _graph_version(cls, value: str) -> str:
        value = value.strip()
        if not _GRAPH_VERSION.fullmatch(value):
            raise ValueError(f"META_GRAPH_VERSION must be like v25.0, not {value!r}")
        return value if value.startswith("v") else f"v{value}"

    # --- X (bot/channels/x.py) -------------------------------------------------------------------
    # The app's consumer key and secret (the secret signs X's webhook calls and answers its CRC),
    # and the city account's access token and secret (OAuth 1.0a user context: DMs and replies).
    x_consumer_key: str = ""
    x_consumer_secret: str = Field(default="", repr=False)
    x_access_token: str = Field(default="", repr=False)
    x_access_token_secret: str = Field(default="", repr=False)
    # Where X's API is (tweepy's host is rewritten to it: bot/channels/x_api.py).
    x_api_base: str = "https://api.twitter.com"
    # The webhook's id (`intake311 x set-webhook` prints it); `intake311 x info` shows its
    # subscription. Unset: the webhook registered at PUBLIC_BASE_URL/webhooks/x, if any.
    x_webhook_id: str = ""
    # The city account's sends a second. X's documented per-user limits: direct messages
    # 200 per 15 minutes (and 1,000 a day), posts 100 per 15 minutes; one bucket holds both
    # (a send is paced by its address alone), at the DMs' pace; a 429 holds it until X's reset.
    x_sends_per_second: float = Field(0.2, ge=0)

    @field_validator(
        "inbound_limit_per_sender",
        "inbound_limit_global",
        "reply_limit_per_sender",
        "webchat_sessions_per_client",
    )
    @classmethod
    def _readable_limits(cls, value: str) -> str:
        from limits import parse_many

        value = value.strip()
        if value:
            try:
                parse_many(value)
            except ValueError as exc:
                raise ValueError(
                    f"{value!r} is not a rate limit (e.g. '10/minute;60/hour')"
                ) from exc
        return value

    @model_validator(mode="after")
    def _jobs_end_before_their_locks(self) -> Settings:
        if self.lock_timeout < 2:
            raise ValueError("LOCK_TIMEOUT must be at least 2 seconds")
        if self.job_timeout and self.job_timeout * 2 > self.lock_timeout:
            raise ValueError(
                f"JOB_TIMEOUT ({self.job_timeout}) must be at most half of LOCK_TIMEOUT "
                f"({self.lock_timeout}): a job must end, or be killed, before its lock lapses"
            )
        return self

    def resident_job_timeout(self) -> int:
        """Seconds a job that holds a conversation's or contact's lock may run (JOB_TIMEOUT)."""
        return self.job_timeout or self.lock_timeout // 2

    # --- Mastodon (bot/channels/mastodon.py) ----------------------------------------------------
    # The instance the city's account is on ("https://mastodon.example.org") and that account's
    # access token (scopes read:notifications read:statuses write:statuses). Both set: the
    # scheduler reads its mentions every MASTODON_POLL_SECONDS (Mastodon has no webhook for them).
    mastodon_base_url: str = ""
    mastodon_access_token: str = Field(default="", repr=False)
    # Seconds between two reads of the mentions. Mastodon allows 300 API calls per 5 minutes
    # per account (docs.joinmastodon.org/api/rate-limits): a poll is one call (one more per
    # page of 80 when more arrived), so 15 s spends about 20 of them.
    mastodon_poll_seconds: float = Field(15.0, ge=1, le=3600)
    # Hosts, besides MASTODON_BASE_URL's, that the instance's media are served from
    # (comma-separated names, "*.example.com", or "name:port"), e.g. "files.mastodon.social".
    mastodon_media_hosts: str = ""
    # Statuses a second the bot posts (bot.pacing; 0: not paced). Posts share the 300 calls per
    # 5 minutes with the polls; Mastodon also allows 300 statuses per 3 hours per account and
    # answers 429 past it until its X-RateLimit-Reset, which holds the sends that long.
    mastodon_sends_per_second: float = Field(0.5, ge=0)

    @field_validator("mastodon_base_url")
    @classmethod
    def _mastodon_base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not re.fullmatch(r"https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?", value):
            raise ValueError(
                f"{value!r} is not a Mastodon instance's address ('https://mastodon.example.org')"
            )
        return value

    # --- The city's own address data as the geocoder (bot/gazetteer, GEOCODER=gazetteer) ------
    # The index `intake311 gazetteer load FILE...` builds from the city's address points,
    # street centrelines and places (CSV or GeoJSON), and the geocoder reads.
    gazetteer_file: str = "var/gazetteer.sqlite3"

    # --- Locations: the geocoding provider's key and the city's limits (bot/geocoders.py,
    # bot/boundary.py) ------------------------------------------------------------------------
    # The key of a provider that takes one (Pelias on geocode.earth, OpenCage, HERE, ...).
    geocoder_api_key: str = Field(default="", repr=False)
    # Seconds a provider's answer is kept in Redis (bot/geocode_cache.py); 0: not kept. The
    # city's own gazetteer keeps its own, in each process.
    geocode_cache_seconds: int = Field(default=86400, ge=0)
    # A GeoJSON Polygon/MultiPolygon (geometry, Feature or FeatureCollection): places outside
    # it are refused as outside the city, as outside CITY_BOUNDS are.
    city_boundary_file: str = ""
    # Said after "That is outside <city>.": where to go instead (default: a generic sentence).
    outside_city_text: str = ""

    # --- Duplicates: open requests nearby offered before filing (bot/duplicates.py,
    # bot/jobs/open_requests.py) ----------------------------------------------------------------
    # How near (metres) an open request of the same service must be to be offered, and per
    # service ("pothole=30,graffiti=20": a service's code, "=", metres; the rest use the first).
    duplicate_radius_metres: float = Field(50.0, gt=0, le=5000)
    duplicate_radius_by_service: str = ""
    # Services not checked (comma-separated codes, or "*": the check is off, and the city's
    # open requests are not listed either).
    duplicate_services_off: str = ""
    # How far back (days) the city's open requests are listed and offered.
    duplicate_window_days: int = Field(30, ge=1, le=90)  # GeoReport v2 lists 90 days at most
    # Seconds between two listings of the city's open requests (the cron's, on the city queue).
    duplicate_refresh_seconds: int = Field(600, ge=30)

    @field_validator("duplicate_radius_by_service")
    @classmethod
    def _readable_radii(cls, value: str) -> str:
        parse_radii(value)  # raises ValueError saying which entry is wrong
        return value.strip()

    def duplicate_radius(self, service_code: str) -> float:
        """Metres within which an open request of `service_code` counts as the same problem."""
        return parse_radii(self.duplicate_radius_by_service).get(
            service_code, self.duplicate_radius_metres
        )

    def duplicates_off(self) -> frozenset[str]:
        """The service codes not checked for duplicates ("*": none is checked)."""
        return frozenset(c.strip() for c in self.duplicate_services_off.split(",") if c.strip())

    @field_validator("city_boundary_file")
    @classmethod
    def _readable_boundary(cls, value: str) -> str:
        from bot.boundary import BoundaryError, read_boundary  # reads no settings at import

        value = value.strip()
        if value:
            try:
                with open(value, "rb") as handle:
                    read_boundary(handle.read())
            except (OSError, BoundaryError, TypeError) as exc:
                raise ValueError(f"CITY_BOUNDARY_FILE cannot be read as a polygon: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _pelias_has_a_domain(self) -> Settings:
        from bot.geocoders import family

        pelias = family(self.geocoder) == "pelias" and self.geocoder == "pelias"
        if pelias and self.geocoder_domain == "nominatim.openstreetmap.org":
            raise ValueError("GEOCODER=pelias needs GEOCODER_DOMAIN (your Pelias server)")
        return self


def parse_bounds(text: str) -> tuple[tuple[float, float], tuple[float, float]]:
    """Parse 'south,west,north,east' into two corner points."""
    try:
        south, west, north, east = (float(part) for part in text.split(","))
    except ValueError as exc:
        raise ValueError("CITY_BOUNDS must be 'south,west,north,east' in degrees") from exc
    if not (south < north and west < east):
        raise ValueError("CITY_BOUNDS must have south < north and west < east")
    return (south, west), (north, east)


def parse_radii(text: str) -> dict[str, float]:
    """Parse DUPLICATE_RADIUS_BY_SERVICE ("pothole=30,graffiti=20") into code -> metres."""
    radii: dict[str, float] = {}
    for entry in text.split(","):
        if not entry.strip():
            continue
        code, equals, metres = entry.strip().rpartition("=")
        try:
            radius = float(metres) if equals and code.strip() else -1.0
        except ValueError:
            radius = -1.0
        if not 0 < radius <= 5000:
            raise ValueError(
                f"DUPLICATE_RADIUS_BY_SERVICE takes code=metres entries, comma-separated, with "
                f"metres above 0 and at most 5000 ('pothole=30,graffiti=20'); not {entry[:60]!r}"
            )
        radii[code.strip()] = radius
    return radii


def settings_errors(exc: ValueError) -> list[str]:
    """Why the settings cannot be read, one line a variable, its value left out (it could be a
    key): "OPEN311_TIMEOUT: Input should be greater than 0"."""
    if not isinstance(exc, ValidationError):
        return [" ".join(str(exc).split())]
    return [
        f"{'.'.join(str(part) for part in error['loc']).upper() or 'settings'}: {error['msg']}"
        for error in exc.errors()
    ]


@lru_cache
def get_settings() -> Settings:
    """The process's settings, read once."""
    return Settings()

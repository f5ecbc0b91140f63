"""A local server speaking Telegram's Bot API, for driving python-telegram-bot's real `Bot`.

Built from the Bot API reference (https://core.telegram.org/bots/api, see
tests/fixtures/telegram/SOURCES.md): methods at `/bot<token>/<method>`, parameters as JSON,
form or query string, answers in the `{"ok": true, "result": ...}` envelope and errors as
`{"ok": false, "error_code": ..., "description": ...}`. Knobs in ``app.config``:

- ``CALLS``: every call that reached a method with the right token, in order, as
  ``{"method", "params"}``; JSON-typed parameters (``reply_markup``, ``allowed_updates``...)
  are decoded, as Telegram reads them.
- ``BLOCKED``: chat ids (int) that blocked the bot: sends get 403.
- ``UNKNOWN_CHATS``: chat ids that never started the bot: sends get 400 "chat not found".
- ``RETRY_AFTER``: ``{chat_id: seconds}``: the next send to that chat gets 429 with
  ``parameters.retry_after`` (once).
- ``FAIL_NEXT``: ``[502, 500]``: the next calls answer those statuses (one each).
- ``WEBHOOK``: what setWebhook stored (getWebhookInfo reports it).
- ``COMMANDS``: the command menus setMyCommands stored, by language_code ("" for the default).

- ``FILES``: ``{file_id: (bytes, file_path)}``, what getFile answers (``file_id``,
  ``file_unique_id``, ``file_size``, ``file_path``, as the Bot API's File object) and what
  ``GET /file/bot<token>/<file_path>`` serves (404 for another token or path, as Telegram
  does); ``add_file(app, data)`` registers one and returns its file id. A file id not there
  gets 400 "wrong file_id or the file is temporarily unavailable"; one in ``TOO_BIG`` gets 400
  "file is too big" (bots may download files of up to 20 MB: "getFile" in the Bot API
  reference, https://core.telegram.org/bots/api#getfile). ``FILE_REQUESTS`` lists the paths
  of the file downloads asked for.

``reset_telegram_api(app)`` clears them all, so one served fake can be shared across tests.
The module also builds Updates as Telegram would post them to our webhook (``message_update``,
``callback_update``), from the recorded fixtures.
"""

from __future__ import annotations

import itertools
import json
import re
import secrets
import threading
import time
from pathlib import Path

from flask import Flask, Response, jsonify, request

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "telegram"
BOT_ID = 6000000001
BOT_USERNAME = "springfield311_bot"
JSON_PARAMS = {
    "reply_markup",
    "allowed_updates",
    "entities",
    "caption_entities",
    "link_preview_options",
    "reply_parameters",
}
SEND_METHODS = {"sendMessage", "sendPhoto"}
MAX_TEXT = 4096
MAX_CALLBACK_DATA = 64

BOT_USER = {
    "id": BOT_ID,
    "is_bot": True,
    "first_name": "Springfield 311",
    "username": BOT_USERNAME,
    "can_join_groups": False,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}


def reset_telegram_api(app: Flask) -> None:
    """Forget calls, injected failures, the webhook and the chats' message numbers."""
    with app.config["LOCK"]:
        app.config["CALLS"].clear()
        app.config.update(
            MESSAGE_IDS={},
            BLOCKED=set(),
            UNKNOWN_CHATS=set(),
            RETRY_AFTER={},
            FAIL_NEXT=[],
            WEBHOOK={},
            COMMANDS={},
            FILES={},
            TOO_BIG=set(),
            FILE_REQUESTS=[],
        )


def add_file(app: Flask, data: bytes, suffix: str = "jpg") -> str:
    """Keep `data` as a file a resident sent; its file_id (what a message's photo carries)."""
    number = next(_file_numbers)
    file_id = f"AgACAgEAAxkBAAI{number}" + secrets.token_urlsafe(24)
    with app.config["LOCK"]:
        app.config["FILES"][file_id] = (data, f"photos/file_{number}.{suffix}")
    return file_id


_file_numbers = itertools.count(1)


def sent(app: Flask, chat_id: int | None = None) -> list[dict]:
    """The parameters of every accepted sendMessage/sendPhoto (to `chat_id` if given), with
    the `message_id` the fake gave the sent message."""
    return [
        call["params"] | {"method": call["method"], "message_id": call["result"].get("message_id")}
        for call in app.config["CALLS"]
        if call["method"] in SEND_METHODS
        and call.get("ok")
        and (chat_id is None or int(call["params"]["chat_id"]) == chat_id)
    ]


def _error(code: int, description: str, **parameters):
    body = {"ok": False, "error_code": code, "description": description}
    if parameters:
        body["parameters"] = parameters
    response = jsonify(body)
    response.status_code = code
    return response


def _ok(result):
    return jsonify({"ok": True, "result": result})


def _params() -> dict:
    """The call's parameters from JSON, a form or the query string, JSON-typed ones decoded."""
    params = dict(request.get_json() or {}) if request.is_json else request.values.to_dict()
    for key in JSON_PARAMS & params.keys():
        if isinstance(params[key], str):
            params[key] = json.loads(params[key])
    return params


def _check_markup(markup: dict | None) -> str | None:
    """Telegram's complaint about a reply_markup, or None."""
    if not markup:
        return None
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA:
                return "Bad Request: BUTTON_DATA_INVALID"
    return None


def create_telegram_api_app(token: str) -> Flask:
    """Build a Flask app answering the Bot API for the bot with `token`."""
    app = Flask(__name__)
    lock = threading.Lock()
    app.config.update(LOCK=lock, CALLS=[])
    app.config.update(
        BLOCKED=set(), UNKNOWN_CHATS=set(), RETRY_AFTER={}, FAIL_NEXT=[], WEBHOOK={}, COMMANDS={}
    )
    app.config.update(FILES={}, TOO_BIG=set(), FILE_REQUESTS=[], MESSAGE_IDS={})

    def next_message(chat_id: int, **content) -> dict:
        with lock:
            counter = app.config["MESSAGE_IDS"].setdefault(chat_id, itertools.count(1001))
            message_id = next(counter)
        return {
            "message_id": message_id,
            "from": {k: BOT_USER[k] for k in ("id", "is_bot", "first_name", "username")},
            "chat": {"id": chat_id, "type": "private"},
            "date": int(time.time()),
            **content,
        }

    def send_refusal(chat_id: int):
        if chat_id in app.config["BLOCKED"]:
            return _error(403, "Forbidden: bot was blocked by the user")
        if chat_id in app.config["UNKNOWN_CHATS"]:
            return _error(400, "Bad Request: chat not found")
        with lock:
            retry_after = app.config["RETRY_AFTER"].pop(chat_id, None)
        if retry_after is not None:
            return _error(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        return None

    def send_message(params: dict):
        text = str(params.get("text") or "")
        if not text.strip():
            return _error(400, "Bad Request: message text is empty")
        if len(text) > MAX_TEXT:
            return _error(400, "Bad Request: message is too long")
        markup = params.get("reply_markup")
        content = {"text": text}
        if markup and "inline_keyboard" in markup:
            content["reply_markup"] = markup  # only inline keyboards are echoed back
        return next_message(int(params["chat_id"]), **content)

    def send_photo(params: dict):
        photo = params.get("photo")
        if not photo:
            return _error(400, "Bad Request: there is no photo in the request")
        if ".invalid/" in str(photo):  # a URL Telegram's servers cannot fetch
            return _error(400, "Bad Request: wrong file identifier/HTTP URL specified")
        sizes = [
            {
                "file_id": f"AgACAgEAAxkDAAI{n}fake",
                "file_unique_id": f"AQAD{n}",
                "file_size": 1000 * n,
                "width": 90 * n,
                "height": 68 * n,
            }
            for n in (1, 4)
        ]
        content = {"photo": sizes}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return next_message(int(params["chat_id"]), **content)

    def webhook_info(_params: dict):
        hook = app.config["WEBHOOK"]
        info = {
            "url": hook.get("url", ""),
            "has_custom_certificate": False,
            "pending_update_count": 0,
        }
        if hook.get("url"):
            info.update(
                max_connections=hook.get("max_connections", 40), ip_address="149.154.167.220"
            )
            if "allowed_updates" in hook:
                info["allowed_updates"] = hook["allowed_updates"]
        return info

    def set_webhook(params: dict):
        url = params.get("url", "")
        if url and not url.startswith("https://"):
            return _error(
                400, "Bad Request: bad webhook: An HTTPS URL must be provided for webhook"
            )
        with lock:
            app.config["WEBHOOK"] = {k: v for k, v in params.items() if k != "secret_token"}
            app.config["WEBHOOK"]["has_secret"] = bool(params.get("secret_token"))
        return True

    def set_my_commands(params: dict):
        # Bot API: 1-100 commands, each 1-32 of a-z 0-9 _, a description of 1-256 characters.
        commands = params.get("commands")
        if isinstance(commands, str):
            commands = json.loads(commands)
        if not commands or len(commands) > 100:
            return _error(400, "Bad Request: commands are invalid")
        for command in commands:
            name, text = command.get("command", ""), command.get("description", "")
            if not re.fullmatch(r"[a-z0-9_]{1,32}", name) or not 1 <= len(text) <= 256:
                return _error(400, "Bad Request: BOT_COMMAND_INVALID")
        with lock:
            app.config["COMMANDS"][params.get("language_code") or ""] = commands
        return True

    def delete_webhook(_params: dict):
        with lock:
            app.config["WEBHOOK"] = {}
        return True

    def get_file(params: dict):
        file_id = str(params.get("file_id") or "")
        with lock:
            found = app.config["FILES"].get(file_id)
            too_big = file_id in app.config["TOO_BIG"]
        if too_big:
            return _error(400, "Bad Request: file is too big")
        if found is None:
            return _error(400, "Bad Request: wrong file_id or the file is temporarily unavailable")
        data, file_path = found
        return {
            "file_id": file_id,
            "file_unique_id": "AQAD" + file_id[-8:],
            "file_size": len(data),
            "file_path": file_path,
        }

    @app.get("/file/bot<given>/<path:file_path>")
    def download_file(given: str, file_path: str):
        with lock:
            app.config["FILE_REQUESTS"].append(file_path)
            files = list(app.config["FILES"].values())
        found = next((data for data, path in files if path == file_path), None)
        if given != token or found is None:
            return _error(404, "Not Found")
        return Response(found, mimetype="application/octet-stream")

    methods = {
        "getMe": lambda _params: dict(BOT_USER),
        "getFile": get_file,
        "sendMessage": send_message,
        "sendPhoto": send_photo,
        "answerCallbackQuery": lambda params: (
            True
            if params.get("callback_query_id")
            else _error(
                400,
                "Bad Request: query is too old and response timeout expired or query ID is invalid",
            )
        ),
        "setWebhook": set_webhook,
        "getWebhookInfo": webhook_info,
        "deleteWebhook": delete_webhook,
        "setMyCommands": set_my_commands,
    }

    @app.route("/bot<path:rest>", methods=["GET", "POST"])
    def bot_api(rest: str):
        given, _, method = rest.rpartition("/")
        if given != token:
            return _error(401, "Unauthorized")
        handler = methods.get(method)
        if handler is None:
            return _error(404, "Not Found")
        params = _params()
        call = {"method": method, "params": params, "ok": False}
        with lock:
            app.config["CALLS"].append(call)
            fail_next = app.config["FAIL_NEXT"]
            status = fail_next.pop(0) if fail_next else None
        if status is not None:
            return _error(status, "Internal Server Error" if status == 500 else "Bad Gateway")
        if method in SEND_METHODS:
            if "chat_id" not in params:
                return _error(400, "Bad Request: chat_id is empty")
            complaint = _check_markup(params.get("reply_markup"))
            if complaint:
                return _error(400, complaint)
            refused = send_refusal(int(params["chat_id"]))
            if refused is not None:
                return refused
        result = handler(params)
        if not isinstance(result, (dict, bool)):
            return result  # an error response
        call["ok"] = True
        call["result"] = result
        return _ok(result)

    return app


# --- Updates, as Telegram posts them to the bot's webhook ---------------------------------------

_update_ids = itertools.count(870000001)


def fixture(name: str) -> dict:
    """A recorded Update (tests/fixtures/telegram/<name>.json)."""
    return json.loads((FIXTURES / f"{name}.json").read_text())


def message_update(chat_id: int, text: str = "", **fields) -> dict:
    """A new private-chat message Update built on the recorded one, with a fresh update_id."""
    update = fixture("text")
    update["update_id"] = next(_update_ids)
    message = update["message"]
    message["chat"]["id"] = message["from"]["id"] = chat_id
    message["message_id"] = update["update_id"] % 100000
    message.pop("text")
    if text:
        message["text"] = text
    message.update(fields)
    return update


def callback_update(chat_id: int, data: str, message: dict | None = None) -> dict:
    """A button tap on `message` (the bot's message, as the Bot API returned it)."""
    update = fixture("callback_query")
    update["update_id"] = next(_update_ids)
    query = update["callback_query"]
    query["id"] = str(1771009442785214371 + update["update_id"])
    query["from"]["id"] = chat_id
    query["data"] = data
    if message is not None:
        query["message"] = message | {"chat": query["message"]["chat"] | {"id": chat_id}}
    else:
        query["message"]["chat"]["id"] = chat_id
    return update


def post_update(client, update: dict, secret: str | None):
    """POST an Update to our webhook as Telegram does, with the secret token header if given."""
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    return client.post("/webhooks/telegram", json=update, headers=headers)

"""A bare Flask hello-world: the ceiling for any Flask app under the Procfile's gunicorn."""

from flask import Flask

app = Flask(__name__)


@app.route("/", methods=["GET", "POST"])
@app.route("/webhooks/twilio", methods=["GET", "POST"])
@app.route("/healthz")
def hello() -> str:
    """Hello, world."""
    return "Hello, World!"

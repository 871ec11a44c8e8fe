"""The bare floor of ``make bench``: Flask with one route that answers a short text.

Nothing of the server's own (no request hooks, extensions, database or log line): what
gunicorn and Flask cost per request on this machine, served under the same gunicorn
command and settings as the server (bench/harness.py), in the same run.

    gunicorn -c python:oauth_server.gunicorn_conf 'bench.bare:app'
"""

from __future__ import annotations

from flask import Flask

app = Flask(__name__)


@app.get("/")
def index() -> str:
    return "ok"

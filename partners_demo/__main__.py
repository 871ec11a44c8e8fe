"""``python -m partners_demo [--port 5001]``: serve the demo (development server)."""

from __future__ import annotations

import argparse
import logging
import os
import re

from partners_demo import create_app

# The request line of the development server's access log, "GET /callback?code=... HTTP/1.1"
# (in colour: after an escape code).
_QUERY = re.compile(r"((?:GET|HEAD|POST|PUT|PATCH|DELETE|OPTIONS) /[^ ?]*)\?\S*")


class PathOnly(logging.Filter):
    """The development server logs every request line with its query string, and the
    callback's holds the authorization code: log the path alone."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = _QUERY.sub(r"\1", record.getMessage()), None
        return True


def main() -> None:
    parser = argparse.ArgumentParser(prog="partners_demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PARTNERS_DEMO_PORT", "5001"))
    )
    args = parser.parse_args()
    logging.getLogger("werkzeug").addFilter(PathOnly())
    create_app().run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()

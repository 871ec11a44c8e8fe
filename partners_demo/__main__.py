"""``python -m partners_demo [--port 5001]``: serve the demo (development server)."""

from __future__ import annotations

import argparse
import os

from partners_demo import create_app


def main() -> None:
    parser = argparse.ArgumentParser(prog="partners_demo")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument(
        "--port", type=int, default=int(os.environ.get("PARTNERS_DEMO_PORT", "5001"))
    )
    args = parser.parse_args()
    create_app().run(host=args.host, port=args.port, threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()

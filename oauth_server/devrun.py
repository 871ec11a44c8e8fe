"""``make run``: serve the app, then print where to log in once it answers.

The banner comes after the server's own start-up lines, so it is the last thing on the
screen; it is not printed at all when the server cannot start.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import FrameType

READY_TIMEOUT = 30.0


def main(demo_file: str, server_port: str, demo_port: str) -> int:
    demo = json.loads(Path(demo_file).read_text())
    server = f"http://127.0.0.1:{server_port}"
    # Checked first: otherwise whatever holds the port would answer our readiness check.
    if not _port_free(int(server_port)):
        print(
            f"Port {server_port} is in use by another program: stop it, or pick another "
            "port with OAUTH_SERVER_PORT=...",
            file=sys.stderr,
        )
        return 1
    env = dict(os.environ, OAUTH_ISSUER=os.environ.get("OAUTH_ISSUER", server))
    bin_dir = Path(sys.executable).parent
    # SIGTERM (a process manager, `kill`) ends us like Ctrl-C: through `finally`, so the
    # servers we started do not outlive us.
    signal.signal(signal.SIGTERM, _exit)
    procs = [
        subprocess.Popen([str(bin_dir / "oauth-server"), "serve", "--port", server_port], env=env)
    ]
    try:
        if _ready(f"{server}/healthz", procs[0]):
            print(_banner(server, demo["logins"]), flush=True)
        return procs[0].wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(10)


def _banner(server: str, logins: dict[str, dict[str, str]]) -> str:
    admin, teammate = logins["admin"], logins["teammate"]
    return (
        "\n"
        f"  Workspace server:  {server}/login\n"
        f"  Admin login:       {admin['email']} / {admin['password']}\n"
        f"  Teammate login:    {teammate['email']} / {teammate['password']}\n"
        f"  API tokens:        {server}/settings/plugins-api/api\n"
        "  Stop with Ctrl-C.\n"
    )


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        # As a server binds: a closed connection in TIME_WAIT does not count as in use.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ready(url: str, proc: subprocess.Popen[bytes]) -> bool:
    """Wait until ``url`` answers; False if the process ended or time ran out."""
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(url, timeout=1):
                return True
        except OSError:
            time.sleep(0.1)
    return False


def _exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

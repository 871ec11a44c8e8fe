"""``make run``: serve the app, the job worker and the partner demo, then print where to
log in once they answer, and where the e-mails go.

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
    partner = f"http://127.0.0.1:{demo_port}"
    # Checked first: otherwise whatever holds the port would answer our readiness check.
    for port, variable in ((server_port, "OAUTH_SERVER_PORT"), (demo_port, "PARTNERS_DEMO_PORT")):
        if not _port_free(int(port)):
            print(
                f"Port {port} is in use by another program: stop it, or pick another "
                f"port with {variable}=...",
                file=sys.stderr,
            )
            return 1
    env = dict(os.environ, OAUTH_ISSUER=os.environ.get("OAUTH_ISSUER", server))
    credentials = json.loads(Path(demo["partner_app"]["credentials_file"]).read_text())
    demo_env = dict(
        os.environ,
        PARTNERS_DEMO_SERVER_URL=env["OAUTH_ISSUER"],
        PARTNERS_DEMO_CLIENT_ID=credentials["client_id"],
        PARTNERS_DEMO_CLIENT_SECRET=credentials["client_secret"] or "",
        PARTNERS_DEMO_EVENTS_SECRET=credentials.get("events_secret") or "",
        PARTNERS_DEMO_INSTANCE=str(Path(demo_file).parent / "partners_demo"),
    )
    bin_dir = Path(sys.executable).parent
    # SIGTERM (a process manager, `kill`) ends us like Ctrl-C: through `finally`, so the
    # servers we started do not outlive us.
    signal.signal(signal.SIGTERM, _exit)
    procs = [
        subprocess.Popen([str(bin_dir / "oauth-server"), "serve", "--port", server_port], env=env),
        subprocess.Popen(
            [sys.executable, "-m", "partners_demo", "--port", demo_port], env=demo_env
        ),
        # The same environment as the server's: the same database, queue and mail settings.
        subprocess.Popen([str(bin_dir / "oauth-server"), "worker"], env=env),
    ]
    try:
        if _ready(f"{server}/healthz", procs[0]) and _ready(f"{partner}/healthz", procs[1]):
            mail = _mail_destination(Path(demo_file).parent)
            print(_banner(server, partner, demo["logins"], mail), flush=True)
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
        return next(proc.returncode for proc in procs if proc.returncode is not None)
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(25)  # the worker lets a running job finish (20 s at most)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _mail_destination(default_instance: Path) -> str:
    """Where the worker delivers e-mail: the SMTP server, or the instance's mail folder."""
    if os.environ.get("MAIL_SERVER"):
        return f"SMTP {os.environ['MAIL_SERVER']}:{os.environ.get('MAIL_PORT') or 25}"
    instance = Path(os.environ.get("OAUTH_SERVER_INSTANCE") or default_instance)
    return f"files in {instance / 'mail'}/ (MAIL_SERVER=... to send)"


def _banner(server: str, partner: str, logins: dict[str, dict[str, str]], mail: str = "") -> str:
    admin, teammate = logins["admin"], logins["teammate"]
    return (
        "\n"
        f"  Workspace server:  {server}/login\n"
        f"  Partner demo:      {partner}/\n"
        f"  Admin login:       {admin['email']} / {admin['password']}\n"
        f"  Teammate login:    {teammate['email']} / {teammate['password']}\n"
        f"  API tokens:        {server}/settings/plugins-api/api\n"
        f"  E-mail:            {mail}\n"
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

"""``make run``: print where to log in, then serve the app (and the partner demo, if present)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path


def main(demo_file: str, server_port: str, demo_port: str) -> int:
    demo = json.loads(Path(demo_file).read_text())
    server = f"http://127.0.0.1:{server_port}"
    logins = demo["logins"]
    print(
        "\n"
        f"  Workspace server:  {server}/login\n"
        f"  Admin login:       {logins['admin']['email']} / {logins['admin']['password']}\n"
        f"  Teammate login:    {logins['teammate']['email']} / {logins['teammate']['password']}\n"
        f"  API tokens:        {server}/settings/plugins-api/api\n"
        "  Stop with Ctrl-C.\n",
        flush=True,
    )
    env = dict(os.environ, OAUTH_ISSUER=os.environ.get("OAUTH_ISSUER", server))
    bin_dir = Path(sys.executable).parent
    procs = [
        subprocess.Popen(
            [str(bin_dir / "oauth-server"), "serve", "--port", server_port], env=env
        )
    ]
    try:
        return procs[0].wait()
    except KeyboardInterrupt:
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(10)


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:4]))

#!/usr/bin/env python3
"""Starts a throwaway Synapse homeserver on loopback for sitrep's Matrix tests and demos.

Standard library plus `matrix-synapse` (PyPI). It writes a config into DIR (SQLite, no
federation, rate limits off, a `registration_shared_secret`), starts Synapse in the
foreground, and prints one JSON line once the client API answers:

    {"url": "http://127.0.0.1:PORT", "server_name": "localhost", "shared_secret": "..."}

Usage: synapse.py DIR [--port PORT]   (PORT 0, the default, picks a free port)
       synapse.py register URL SECRET USER PASSWORD [--admin]
           registers USER through the shared-secret admin API and prints
           {"user_id": ..., "access_token": ...}
Stop it with SIGTERM (or by closing its stdin); the directory can then be deleted.
"""

import hashlib
import hmac
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_config(directory, port, secret):
    os.makedirs(directory, exist_ok=True)
    big = {"per_second": 10000, "burst_count": 100000}
    config = {
        "server_name": "localhost",
        "pid_file": os.path.join(directory, "homeserver.pid"),
        "listeners": [
            {
                "port": port,
                "bind_addresses": ["127.0.0.1"],
                "type": "http",
                "tls": False,
                "x_forwarded": False,
                "resources": [{"names": ["client"], "compress": False}],
            }
        ],
        "database": {"name": "sqlite3", "args": {"database": os.path.join(directory, "homeserver.db")}},
        "media_store_path": os.path.join(directory, "media"),
        "signing_key_path": os.path.join(directory, "signing.key"),
        "log_config": os.path.join(directory, "log.yaml"),
        "registration_shared_secret": secret,
        "enable_registration": False,
        "report_stats": False,
        "federation_domain_whitelist": [],
        "trusted_key_servers": [],
        "suppress_key_server_warning": True,
        "presence": {"enabled": False},
        "url_preview_enabled": False,
        "enable_metrics": False,
        "rc_message": big,
        "rc_registration": big,
        "rc_login": {"address": big, "account": big, "failed_attempts": big},
        "rc_joins": {"local": big, "remote": big},
        "rc_joins_per_room": big,
        "rc_invites": {"per_room": big, "per_user": big, "per_issuer": big},
        "rc_admin_redaction": big,
        "rc_3pid_validation": big,
        "rc_presence": {"per_user": big},
        "rc_room_creation": big,
        "rc_reports": big,
        "rc_delayed_event_mgmt": big,
        "macaroon_secret_key": secrets.token_hex(16),
        "form_secret": secrets.token_hex(16),
    }
    # JSON is YAML: no yaml writer needed.
    with open(os.path.join(directory, "homeserver.yaml"), "w") as f:
        json.dump(config, f)
    with open(os.path.join(directory, "log.yaml"), "w") as f:
        json.dump(
            {
                "version": 1,
                "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
                "handlers": {
                    "file": {
                        "class": "logging.FileHandler",
                        "formatter": "plain",
                        "filename": os.path.join(directory, "homeserver.log"),
                    }
                },
                "root": {"level": "WARNING", "handlers": ["file"]},
                "disable_existing_loggers": False,
            },
            f,
        )
    return os.path.join(directory, "homeserver.yaml")


def request(method, url, body=None, token=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as response:
        return json.loads(response.read() or b"{}")


def register(url, secret, user, password, admin=False):
    """The shared-secret admin registration API: a nonce, then an HMAC-SHA1 over the fields."""
    nonce = request("GET", f"{url}/_synapse/admin/v1/register")["nonce"]
    kind = "admin" if admin else "notadmin"
    mac = hmac.new(secret.encode(), digestmod=hashlib.sha1)
    mac.update(b"\x00".join(part.encode() for part in (nonce, user, password, kind)))
    body = {"nonce": nonce, "username": user, "password": password, "admin": admin, "mac": mac.hexdigest()}
    answer = request("POST", f"{url}/_synapse/admin/v1/register", body)
    return {"user_id": answer["user_id"], "access_token": answer["access_token"]}


def serve(directory, port):
    port = port or free_port()
    secret = secrets.token_hex(16)
    config = write_config(directory, port, secret)
    process = subprocess.Popen(
        [sys.executable, "-m", "synapse.app.homeserver", "--config-path", config],
        cwd=directory,
        stdout=open(os.path.join(directory, "stdout.log"), "w"),
        stderr=subprocess.STDOUT,
    )

    def stop(*_):
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
        os._exit(0)

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        if process.poll() is not None:
            sys.stderr.write(open(os.path.join(directory, "stdout.log")).read())
            sys.exit(f"synapse exited with {process.returncode}; see {directory}/homeserver.log")
        try:
            request("GET", f"{url}/_matrix/client/versions")
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if time.monotonic() > deadline:
                stop()
            time.sleep(0.1)
    print(json.dumps({"url": url, "server_name": "localhost", "shared_secret": secret}), flush=True)

    # Whoever started us going away (stdin closed) stops Synapse too.
    def watch_stdin():
        try:
            while sys.stdin.read(1024):
                pass
        except (OSError, ValueError):
            pass
        stop()

    threading.Thread(target=watch_stdin, daemon=True).start()
    process.wait()
    os._exit(process.returncode or 0)


def main(argv):
    if len(argv) >= 5 and argv[0] == "register":
        print(json.dumps(register(argv[1], argv[2], argv[3], argv[4], "--admin" in argv)))
        return
    if not argv:
        sys.exit(__doc__)
    port = 0
    if "--port" in argv:
        port = int(argv[argv.index("--port") + 1])
    serve(argv[0], port)


if __name__ == "__main__":
    main(sys.argv[1:])

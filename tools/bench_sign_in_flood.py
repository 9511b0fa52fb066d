#!/usr/bin/env python3
"""Resident memory of `sitrep serve` under a flood of parallel sign-ins.

For each of two waves (40 parallel guesses at one account; 120 parallel attempts at different
names) it starts a fresh deployment with the given binary, adds one user with a password, fires
the wave, and prints the server's resident memory (VmRSS) before and after, and how the attempts
were answered.
Run it against two builds in one session to compare them (docs/benchmarks.md):

    python3 tools/bench_sign_in_flood.py target/release/sitrep

Standard library only; Linux (reads /proc).
"""

import json
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter


def rss_mib(pid):
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def post(url, body, token=None):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return answer.status
    except urllib.error.HTTPError as error:
        return error.code
    except OSError:
        return 0


def wave(base, attempts):
    statuses = [None] * len(attempts)

    def attempt(i, name, password):
        statuses[i] = post(f"{base}/api/v1/session", {"name": name, "password": password})

    threads = [threading.Thread(target=attempt, args=(i, n, p)) for i, (n, p) in enumerate(attempts)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return Counter(statuses), time.monotonic() - started


def on_fresh_server(binary, label, attempts):
    """Starts a fresh deployment, fires one wave at it, prints its memory around the wave."""
    with tempfile.TemporaryDirectory() as tmp:
        data = f"{tmp}/data"
        init = subprocess.run([binary, "init", "--data", data, "--admin", "root"], capture_output=True, text=True, check=True)
        token = init.stdout.strip().splitlines()[-1]
        server = subprocess.Popen(
            [binary, "serve", "--data", data, "--listen", "127.0.0.1:0"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        )
        try:
            base = re.search(r"http://[0-9.]+:[0-9]+", server.stdout.readline()).group(0)
            for _ in range(200):
                try:
                    urllib.request.urlopen(f"{base}/readyz", timeout=2)
                    break
                except OSError:
                    time.sleep(0.05)
            added = post(f"{base}/api/v1/users",
                         {"name": "lee", "org_role": "member", "password": "correct horse battery staple"}, token)
            assert added == 201, added
            before = rss_mib(server.pid)
            statuses, seconds = wave(base, attempts)
            after = rss_mib(server.pid)
            time.sleep(2)
            later = rss_mib(server.pid)
            answers = ", ".join(f"{count}x {status}" for status, count in sorted(statuses.items()))
            print(f"  {label}: {before:.0f} -> {after:.0f} MiB (+{after - before:.0f}) in {seconds:.1f} s, "
                  f"{later:.0f} MiB two seconds later; {answers}")
        finally:
            server.terminate()
            server.wait(timeout=30)


def main():
    binary = sys.argv[1] if len(sys.argv) > 1 else "target/release/sitrep"
    print(binary)
    on_fresh_server(binary, "40 parallel guesses at one account", [("lee", f"wrong guess {i}") for i in range(40)])
    on_fresh_server(binary, "120 parallel attempts at different names",
                    [(f"stranger{i}", "not a password") for i in range(120)])


if __name__ == "__main__":
    main()

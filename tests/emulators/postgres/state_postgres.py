"""A real PostgreSQL server for cairn's PostgreSQL state backend, behind the control API
every emulator of the project serves.

PostgreSQL needs no emulating: the state backend's tests speak to a real server (Debian's
package, started here on a free loopback port by `local_postgres.LocalPostgres`, the same
code that backs the AWS emulator's RDS endpoints). What this adds is the harness's
contract, so tests start, reset and disturb it like any other emulator:

  GET  /_emulator/ready       200 {"ready": true, "emulator": "postgres"} once it serves
  POST /_emulator/reset       drop the state database and make it again, empty
  GET  /_emulator/connection  {"url": "postgres://cairn_state:…@127.0.0.1:PORT/cairn_state?sslmode=disable"}
  GET/POST /_emulator/faults  {"freeze": true}: every server process stopped (SIGSTOP), so
                              connections and queries hang as at a frozen endpoint;
                              {"freeze": false} resumes them
  GET  /_emulator/calls       the statements the state role ran since the last reset
                              (from the server's statement log), newest last

The server dies with this process (PR_SET_PDEATHSIG), and this process with its parent
when started with --exit-with-parent.
"""

import argparse
import atexit
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "aws"))
import local_postgres  # noqa: E402

SERVER = local_postgres.LocalPostgres()
ROLE = "cairn_state"
PASSWORD = secrets.token_hex(16)
LOCK = threading.Lock()
FROZEN = {"freeze": False}
LOG_FROM = {"offset": 0}


def server_processes():
    """The postmaster and every process it started."""
    root = SERVER.process.pid
    found = [root]
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == root:
            found.append(int(entry))
    return found


def freeze(on):
    for pid in server_processes():
        try:
            os.kill(pid, signal.SIGSTOP if on else signal.SIGCONT)
        except ProcessLookupError:
            pass
    FROZEN["freeze"] = on


def make_database():
    SERVER.sql(f"DROP DATABASE IF EXISTS {ROLE} WITH (FORCE)")
    SERVER.sql(f"CREATE DATABASE {ROLE} OWNER {ROLE}")


def calls():
    """Statements of the state role, from the server's log (log_statement = all)."""
    path = os.path.join(SERVER.dir, "postgres.log")
    try:
        with open(path, "rb") as f:
            f.seek(LOG_FROM["offset"])
            lines = f.read().decode(errors="replace").splitlines()
    except OSError:
        return []
    marker = f"[{ROLE}] "
    found = []
    current = None
    for line in lines:
        if line.startswith("\t") and current is not None:
            # A statement's further lines.
            current.append(line[1:])
            continue
        current = None
        if marker not in line:
            continue
        text = line.split(marker, 1)[1]
        # Simple protocol: "LOG:  statement: …"; extended: "LOG:  execute <name>: …".
        for lead in ("statement: ", "execute "):
            at = text.find(lead)
            if at >= 0:
                body = text[at + len(lead):]
                if lead == "execute ":
                    body = body.split(": ", 1)[-1]
                current = [body]
                found.append(current)
                break
    return ["\n".join(c) for c in found]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"{}") if length else {}

    def do_GET(self):
        if self.path == "/_emulator/ready":
            return self.answer(200, {"ready": SERVER.running, "emulator": "postgres"})
        if self.path == "/_emulator/connection":
            url = f"postgres://{ROLE}:{PASSWORD}@127.0.0.1:{SERVER.port}/{ROLE}?sslmode=disable"
            return self.answer(200, {"url": url})
        if self.path == "/_emulator/faults":
            return self.answer(200, dict(FROZEN))
        if self.path == "/_emulator/calls":
            return self.answer(200, {"calls": calls()})
        self.answer(404, {"error": f"no control endpoint GET {self.path}"})

    def do_POST(self):
        body = self.body()
        with LOCK:
            if self.path == "/_emulator/reset":
                freeze(False)
                make_database()
                # The call log starts over with the database.
                LOG_FROM["offset"] = os.path.getsize(os.path.join(SERVER.dir, "postgres.log"))
                return self.answer(200, {"reset": True})
            if self.path == "/_emulator/faults":
                if "freeze" in body:
                    freeze(bool(body["freeze"]))
                return self.answer(200, dict(FROZEN))
        self.answer(404, {"error": f"no control endpoint POST {self.path}"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started us ends")
    args = parser.parse_args()
    if args.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            freeze(False)
            SERVER.stop()
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    SERVER.start()
    if not SERVER.running:
        sys.exit("state-postgres: no PostgreSQL server (apt-get install postgresql)")
    atexit.register(SERVER.stop)
    SERVER.sql(f"CREATE ROLE {ROLE} LOGIN PASSWORD '{PASSWORD}'")
    SERVER.sql(f"ALTER ROLE {ROLE} SET log_statement = 'all'")
    # The call log needs the statements, not their values: PostgreSQL's default logs every
    # bound value in full, which is a snapshot's bytes, hex-encoded, twice per apply.
    SERVER.sql(f"ALTER ROLE {ROLE} SET log_parameter_max_length = 0")
    SERVER.sql("ALTER SYSTEM SET log_line_prefix = '%m [%p] [%u] '")
    SERVER.sql("SELECT pg_reload_conf()")
    make_database()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"state-postgres: PostgreSQL on 127.0.0.1:{SERVER.port}, control on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

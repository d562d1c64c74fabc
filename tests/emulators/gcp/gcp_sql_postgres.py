"""The PostgreSQL servers behind the GCP emulator's Cloud SQL instances. See cairn_gcp.py
for the whole.

Each instance gets a real server of its own (the AWS emulator's local_postgres.py, shared):
its `postgres` user, databases and roles keep the names the API gave them, and a test logs
in with the passwords it set through the API. A server takes about a second to start, so
one is kept started ahead and an instance insert rarely waits for one.

Every server is started by one long-lived thread: a server dies with the *thread* that
started it (PR_SET_PDEATHSIG follows the thread), and the HTTP server's request threads end
after each request."""

import glob
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "aws"))
import local_postgres  # noqa: E402  (shared with the AWS emulator)

from gcp_contract import ApiError  # noqa: E402

ident = local_postgres._ident
literal = local_postgres._literal


class Servers:
    def __init__(self):
        self.available = bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        self.changed = threading.Condition()
        self.spare = None
        self.live = set()
        self.closed = False

    def start(self):
        if not self.available:
            print("cairn-gcp: no PostgreSQL server (apt-get install postgresql); Cloud SQL instances will have none", flush=True)
            return
        threading.Thread(target=self.keep_spare, daemon=True).start()

    def keep_spare(self):
        while True:
            with self.changed:
                while self.spare is not None or self.closed:
                    self.changed.wait()
            server = local_postgres.LocalPostgres()
            try:
                server.start()
                # Cloud SQL's stand-in for a superuser: owner of the databases the API
                # makes, and the role every user the API makes is a member of.
                server.sql("CREATE ROLE cloudsqlsuperuser NOLOGIN CREATEDB CREATEROLE")
            except Exception as e:  # said, then tried again: instances wait for a server
                print(f"cairn-gcp: a PostgreSQL server did not start: {e}", flush=True)
                server.stop()
                time.sleep(5)
                continue
            with self.changed:
                self.live.add(server)
                self.spare = server
                self.changed.notify_all()

    def take(self):
        """A started server for a new instance; None when PostgreSQL is not installed."""
        if not self.available:
            return None
        deadline = time.monotonic() + 60
        with self.changed:
            while self.spare is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise ApiError(503, "The service is currently unavailable (no local PostgreSQL server started in a minute).")
                self.changed.wait(timeout=left)
            server, self.spare = self.spare, None
            self.changed.notify_all()
            return server

    def release(self, server):
        """Stop an instance's server for good (its data goes with it)."""
        if server is None:
            return
        with self.changed:
            self.live.discard(server)
        server.stop()

    def stop_all(self):
        with self.changed:
            self.closed = True
            servers, self.live, self.spare = list(self.live), set(), None
        for server in servers:
            server.stop()


def run(server, statement):
    """`statement` on an instance's server: None when it worked (or there is no server),
    else PostgreSQL's complaint as Cloud SQL quotes it (`pq: ...`, the Go driver's words)."""
    if server is None:
        return None
    error = server.error_of(statement)
    if error is None:
        return None
    lines = [line.strip() for line in error.splitlines() if line.strip()]
    first = lines[0].split("ERROR:", 1)[-1].strip()
    details = [line.split("DETAIL:", 1)[1].strip() for line in lines[1:] if line.startswith("DETAIL:")]
    return f"pq: {first}" + (f" Details: {' '.join(details)}" if details else "")

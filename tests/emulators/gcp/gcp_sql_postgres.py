"""The PostgreSQL servers behind the GCP emulator's Cloud SQL instances. See cairn_gcp.py
for the whole.

Each instance gets a real server of its own (the AWS emulator's local_postgres.py, shared,
through its `ServerPool`): its `postgres` user, databases and roles keep the names the API
gave them, and a test logs in with the passwords it set through the API."""

import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "aws"))
import local_postgres  # noqa: E402  (shared with the AWS emulator)

from gcp_contract import ApiError  # noqa: E402

ident = local_postgres._ident
literal = local_postgres._literal


def Servers():
    return local_postgres.ServerPool(
        "cairn-gcp",
        # Cloud SQL's stand-in for a superuser: owner of the databases the API makes, and
        # the role every user the API makes is a member of.
        ["CREATE ROLE cloudsqlsuperuser NOLOGIN CREATEDB CREATEROLE"],
        lambda: ApiError(503, "The service is currently unavailable (no local PostgreSQL server started in a minute)."),
    )


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

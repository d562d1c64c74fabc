"""A real PostgreSQL server behind the emulator's RDS instances.

moto's RDS instances are records with an endpoint nobody answers on; cairn creates the
extra logical databases of a stack (flight booking's Hangfire database) by speaking
PostgreSQL to the instance, as it must on AWS. So the emulator runs one local PostgreSQL
(Debian's package; `tests/run-all` installs it) on a free loopback port and points every
RDS instance's endpoint at it: each instance's master user becomes a login role with the
instance's password, its `DBName` a database owned by that role. Deleting an instance drops
its role's databases and the role; a reset drops everything but the built-ins. The GCP
and Azure emulators start one server per Cloud SQL instance or flexible server through
`ServerPool` (gcp/gcp_sql_postgres.py, azure/azure_postgres.py).

The server runs as the `postgres` user when the emulator runs as root (initdb refuses root)
and dies with the emulator (PR_SET_PDEATHSIG), so no test run leaves one behind.
"""

import ctypes
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time


def _ident(name):
    return '"' + name.replace('"', '""') + '"'


def _literal(text):
    return "'" + text.replace("'", "''") + "'"


def arm_death_signal(parent):
    """In a child between fork and exec: SIGQUIT (PostgreSQL's immediate shutdown) when
    the parent dies, or exit now if `parent` (its pid, taken before the fork) is already
    gone. Call it after any user switch:
    changing credentials clears the death signal."""
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    # A shell's background job inherits SIGQUIT ignored, and an ignored death signal is
    # lost: until the server sets its own handler, the default (terminate) must stand.
    # signal(2) from C: Python's refuses outside the main thread.
    libc.signal(signal.SIGQUIT, ctypes.c_void_p(0))  # SIG_DFL
    libc.prctl(1, signal.SIGQUIT)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:
        # The parent died before the signal was armed (the orphan went to init or to a
        # subreaper).
        os._exit(1)


class LocalPostgres:
    def __init__(self, superuser="postgres"):
        # The bootstrap superuser cairn's statements run as; a cloud whose users may take
        # the name `postgres` (Azure's administrator login) gets its own (`azure_superuser`).
        self.superuser = superuser
        self.port = None
        self.bin = None
        self.dir = None
        self.process = None
        self.user = None

    def start(self):
        """Start the server, or explain on stderr why there is none (instances then keep
        moto's unreachable endpoints, and cairn's database step fails loudly)."""
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            print("cairn-moto: no PostgreSQL server (apt-get install postgresql); RDS endpoints will not answer", flush=True)
            return
        self.bin = os.path.dirname(found[-1])
        _sweep_stale_dirs()
        self.user = pwd.getpwnam("postgres") if os.geteuid() == 0 else None
        data = self._initdb()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.process = subprocess.Popen(
            [os.path.join(self.bin, "postgres"), "-D", data, "-p", str(self.port), "-k", self.dir, "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(self.dir, "postgres.log"), "w"),
            preexec_fn=self._as_postgres(True),
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.sql("SELECT 1", check=False):
                return
            time.sleep(0.2)
        raise RuntimeError(f"local PostgreSQL did not start; see {self.dir}/postgres.log")

    def _initdb(self, attempts=3):
        """A fresh data directory. initdb has failed now and then in CI with many servers
        starting at once; its words are kept and it is tried again in a new directory, and
        after the last attempt they are the error."""
        said = []
        for attempt in range(attempts):
            self.dir = tempfile.mkdtemp(prefix="cairn-rds-pg-")
            if self.user:
                os.chown(self.dir, self.user.pw_uid, self.user.pw_gid)
            data = os.path.join(self.dir, "data")
            done = subprocess.run(
                [os.path.join(self.bin, "initdb"), "-D", data, "-U", self.superuser, "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
                preexec_fn=self._as_postgres(False),
            )
            if done.returncode == 0:
                return data
            said.append(f"attempt {attempt + 1}: exit {done.returncode}: {done.stderr.strip()}")
            print(f"local PostgreSQL: initdb failed ({said[-1]})", file=sys.stderr, flush=True)
            shutil.rmtree(self.dir, ignore_errors=True)
            time.sleep(1 + attempt)
        raise RuntimeError("initdb failed " + str(attempts) + " times: " + " | ".join(said))

    def _as_postgres(self, die_with_parent):
        user, parent = self.user, os.getpid()

        def prepare():
            if user:
                os.setgid(user.pw_gid)
                os.setuid(user.pw_uid)
            if die_with_parent:
                arm_death_signal(parent)

        return prepare

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def sql(self, statement, check=True):
        """Run `statement` as the superuser; True when it worked."""
        error = self.error_of(statement)
        if check and error is not None:
            raise RuntimeError(f"local PostgreSQL refused {statement!r}: {error}")
        return error is None

    def error_of(self, statement):
        """Run `statement` as the superuser: None when it worked, else PostgreSQL's words."""
        done = subprocess.run(
            [os.path.join(self.bin, "psql"), "-h", self.dir, "-p", str(self.port), "-U", self.superuser, "-d", "postgres", "-v", "ON_ERROR_STOP=1", "-qAtc", statement],
            capture_output=True,
            text=True,
            preexec_fn=self._as_postgres(False),
        )
        return None if done.returncode == 0 else done.stderr.strip()

    def rows(self, query):
        done = subprocess.run(
            [os.path.join(self.bin, "psql"), "-h", self.dir, "-p", str(self.port), "-U", self.superuser, "-d", "postgres", "-qAtc", query],
            capture_output=True,
            text=True,
            preexec_fn=self._as_postgres(False),
        )
        return [line for line in done.stdout.splitlines() if line]

    # What RDS does to the server an instance stands for.

    def instance_created(self, user, password, db_name):
        if not self.running or not user:
            return
        if password:
            exists = self.rows(f"SELECT 1 FROM pg_roles WHERE rolname = {_literal(user)}")
            verb = "ALTER" if exists else "CREATE"
            self.sql(f"{verb} ROLE {_ident(user)} LOGIN CREATEDB PASSWORD {_literal(password)}")
        if db_name and not self.rows(f"SELECT 1 FROM pg_database WHERE datname = {_literal(db_name)}"):
            self.sql(f"CREATE DATABASE {_ident(db_name)} OWNER {_ident(user)}")

    def password_changed(self, user, password):
        if self.running and user and password:
            self.sql(f"ALTER ROLE {_ident(user)} PASSWORD {_literal(password)}")

    def instance_deleted(self, user):
        if not self.running or not user:
            return
        owned = self.rows(
            "SELECT datname FROM pg_database d JOIN pg_roles r ON d.datdba = r.oid "
            f"WHERE r.rolname = {_literal(user)}"
        )
        for name in owned:
            self.sql(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
        self.sql(f"DROP ROLE IF EXISTS {_ident(user)}", check=False)

    def reset(self):
        if not self.running:
            return
        for name in self.rows("SELECT datname FROM pg_database WHERE NOT datistemplate AND datname <> 'postgres'"):
            self.sql(f"DROP DATABASE IF EXISTS {_ident(name)} WITH (FORCE)")
        for role in self.rows(f"SELECT rolname FROM pg_roles WHERE rolname <> {_literal(self.superuser)} AND rolname NOT LIKE 'pg\\_%'"):
            self.sql(f"DROP ROLE IF EXISTS {_ident(role)}", check=False)

    def stop(self):
        if self.process is not None:
            self.process.send_signal(signal.SIGQUIT)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)


class ServerPool:
    """One real server per emulated database server, one kept started ahead: a server takes
    about a second to start, so a create rarely waits for one.

    Every server is started by one long-lived thread: a server dies with the *thread* that
    started it (PR_SET_PDEATHSIG follows the thread), and an HTTP server's request threads
    end after each request."""

    def __init__(self, label, setup, unavailable, superuser="postgres"):
        """`label` prefixes what is said; `setup` are the statements every new server runs
        (the cloud's stand-in roles); `unavailable()` is the API's error when no server
        started in a minute; `superuser` the server's own (see `LocalPostgres`)."""
        self.label, self.setup, self.unavailable = label, list(setup), unavailable
        self.superuser = superuser
        self.available = bool(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        self.changed = threading.Condition()
        self.spare = None
        self.live = set()
        self.closed = False

    def start(self):
        if not self.available:
            print(f"{self.label}: no PostgreSQL server (apt-get install postgresql); database servers will have none", flush=True)
            return
        threading.Thread(target=self.keep_spare, daemon=True).start()

    def keep_spare(self):
        while True:
            with self.changed:
                while self.spare is not None or self.closed:
                    self.changed.wait()
            server = LocalPostgres(self.superuser)
            try:
                server.start()
                for statement in self.setup:
                    server.sql(statement)
            except Exception as e:  # said, then tried again: creates wait for a server
                print(f"{self.label}: a PostgreSQL server did not start: {e}", flush=True)
                server.stop()
                time.sleep(5)
                continue
            with self.changed:
                self.live.add(server)
                self.spare = server
                self.changed.notify_all()

    def take(self):
        """A started server for a new database server; None when PostgreSQL is not
        installed."""
        if not self.available:
            return None
        deadline = time.monotonic() + 60
        with self.changed:
            while self.spare is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise self.unavailable()
                self.changed.wait(timeout=left)
            server, self.spare = self.spare, None
            self.changed.notify_all()
            return server

    def release(self, server):
        """Stop a server for good (its data goes with it)."""
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


def _sweep_stale_dirs():
    """Remove data directories of servers whose emulator was killed outright (SIGKILL runs
    no cleanup; the server itself died with it through PR_SET_PDEATHSIG)."""
    for stale in glob.glob(os.path.join(tempfile.gettempdir(), "cairn-rds-pg-*")):
        pid_file = os.path.join(stale, "data", "postmaster.pid")
        try:
            if time.time() - os.path.getmtime(stale) < 120:
                continue  # young: possibly another emulator's initdb, which leaves no live pid
            with open(pid_file) as f:
                # A single-user backend (initdb's bootstrap) writes its pid negated.
                pid = abs(int(f.readline().strip()))
            os.kill(pid, 0)
            continue  # a live server of another emulator
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # alive, owned by the postgres user
        except (OSError, ValueError):
            pass  # old and without a readable pid file: dead
        shutil.rmtree(stale, ignore_errors=True)


SERVER = LocalPostgres()

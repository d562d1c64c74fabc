"""Azurite's blob service for cairn's Azure Blob state backend, behind the control API every
emulator of the project serves.

Azurite is the real thing Microsoft ships for local work; what this adds is the harness's
contract, so tests start, reset and disturb it like any other emulator:

  GET  /_emulator/ready       200 {"ready": true, "emulator": "azurite"} once Azurite answers
  POST /_emulator/reset       the container `cairn-state` deleted and made again, empty
  GET  /_emulator/connection  {"connection_string": "...;BlobEndpoint=http://127.0.0.1:PORT/devstoreaccount1;"}
  GET/POST /_emulator/faults  {"freeze": true}: Azurite stopped (SIGSTOP), so requests hang
                              as at a frozen endpoint; {"freeze": false} resumes it
  GET  /_emulator/calls       the requests Azurite logged since the last reset (its debug log;
                              409 when started with --no-call-log)

Azurite dies with this process (PR_SET_PDEATHSIG), and this process with its parent when
started with --exit-with-parent.
"""

import argparse
import atexit
import base64
import hashlib
import hmac
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "aws"))
import local_postgres  # noqa: E402  (its death-signal helper)

# Azurite's well-known development account (public, in Microsoft's documentation).
ACCOUNT = "devstoreaccount1"
KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
CONTAINER = "cairn-state"
LOCK = threading.Lock()
STATE = {"process": None, "port": None, "dir": None, "frozen": False, "log_from": 0, "call_log": True}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def signed(method, path, body=b""):
    """A Shared Key request to Azurite (to make the container), built by hand."""
    date = formatdate(usegmt=True)
    version = "2021-08-06"
    canonical_headers = f"x-ms-date:{date}\nx-ms-version:{version}\n"
    resource, _, query = path.partition("?")
    canonical_resource = f"/{ACCOUNT}/{ACCOUNT}{resource}"
    for pair in sorted(p for p in query.split("&") if p):
        k, _, v = pair.partition("=")
        canonical_resource += f"\n{k}:{v}"
    length = str(len(body)) if body else ""
    to_sign = f"{method}\n\n\n{length}\n\n\n\n\n\n\n\n\n{canonical_headers}{canonical_resource}"
    mac = hmac.new(base64.b64decode(KEY), to_sign.encode(), hashlib.sha256).digest()
    url = f"http://127.0.0.1:{STATE['port']}/{ACCOUNT}{path}"
    req = urllib.request.Request(url, data=body if body else None, method=method)
    req.add_header("x-ms-date", date)
    req.add_header("x-ms-version", version)
    req.add_header("Authorization", f"SharedKey {ACCOUNT}:{base64.b64encode(mac).decode()}")
    if body:
        req.add_header("Content-Length", length)
    return urllib.request.urlopen(req, timeout=10)


def start(azurite, call_log):
    STATE["port"] = free_port()
    STATE["dir"] = tempfile.mkdtemp(prefix="cairn-azurite-")
    parent = os.getpid()
    STATE["process"] = subprocess.Popen(
        [azurite, "--blobHost", "127.0.0.1", "--blobPort", str(STATE["port"]),
         "--inMemoryPersistence", "--skipApiVersionCheck", "--loose", "--silent", "--disableTelemetry"]
        + (["--debug", os.path.join(STATE["dir"], "debug.log")] if call_log else []),
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(STATE["dir"], "azurite.log"), "w"),
        preexec_fn=lambda: local_postgres.arm_death_signal(parent),
    )
    make_container()


def make_container():
    """The state container, once Azurite answers (a container being deleted answers 409
    for a moment)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            signed("PUT", f"/{CONTAINER}?restype=container")
            return
        except urllib.error.HTTPError as e:
            if e.code == 409 and b"ContainerAlreadyExists" in e.read():
                return
        except OSError:
            pass
        if STATE["process"].poll() is not None:
            raise RuntimeError(f"Azurite exited; see {STATE['dir']}/azurite.log")
        time.sleep(0.2)
    raise RuntimeError(f"Azurite did not make the container within 60 s; see {STATE['dir']}/azurite.log")


def stop():
    process = STATE["process"]
    if process is not None and process.poll() is None:
        if STATE["frozen"]:
            process.send_signal(signal.SIGCONT)
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    STATE["process"], STATE["frozen"] = None, False
    if STATE["dir"]:
        shutil.rmtree(STATE["dir"], ignore_errors=True)


def calls():
    """Operations Azurite dispatched since the last reset (`Blob_Upload`, `Blob_Download`,
    `Container_ListBlobFlatSegment`, ...), oldest first."""
    marker = "DispatchMiddleware: Operation="
    try:
        with open(os.path.join(STATE["dir"], "debug.log"), "rb") as f:
            f.seek(STATE["log_from"])
            text = f.read().decode(errors="replace")
    except OSError:
        return []
    return [line.split(marker, 1)[1].strip() for line in text.splitlines() if marker in line]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    azurite = None

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
            alive = STATE["process"] is not None and STATE["process"].poll() is None
            return self.answer(200 if alive else 503, {"ready": alive, "emulator": "azurite"})
        if self.path == "/_emulator/connection":
            endpoint = f"http://127.0.0.1:{STATE['port']}/{ACCOUNT}"
            cs = f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT};AccountKey={KEY};BlobEndpoint={endpoint};"
            return self.answer(200, {"connection_string": cs, "account": ACCOUNT, "container": CONTAINER})
        if self.path == "/_emulator/faults":
            return self.answer(200, {"freeze": STATE["frozen"]})
        if self.path == "/_emulator/calls":
            if not STATE["call_log"]:
                return self.answer(409, {"error": "started with --no-call-log: Azurite keeps no debug log"})
            return self.answer(200, {"calls": calls()})
        self.answer(404, {"error": f"no control endpoint GET {self.path}"})

    def do_POST(self):
        body = self.body()
        with LOCK:
            if self.path == "/_emulator/reset":
                if STATE["frozen"]:
                    STATE["process"].send_signal(signal.SIGCONT)
                    STATE["frozen"] = False
                # Azurite is not restarted: it dies with the thread that started it, and
                # this request's thread ends with the request.
                try:
                    signed("DELETE", f"/{CONTAINER}?restype=container")
                except urllib.error.HTTPError as e:
                    if e.code != 404:
                        raise
                make_container()
                if STATE["call_log"]:
                    STATE["log_from"] = os.path.getsize(os.path.join(STATE["dir"], "debug.log"))
                return self.answer(200, {"reset": True})
            if self.path == "/_emulator/faults":
                if "freeze" in body and STATE["process"] is not None:
                    on = bool(body["freeze"])
                    STATE["process"].send_signal(signal.SIGSTOP if on else signal.SIGCONT)
                    STATE["frozen"] = on
                return self.answer(200, {"freeze": STATE["frozen"]})
        self.answer(404, {"error": f"no control endpoint POST {self.path}"})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--azurite", required=True)
    parser.add_argument("--exit-with-parent", action="store_true", help="stop when the process that started us ends")
    parser.add_argument(
        "--no-call-log",
        action="store_true",
        help="no Azurite debug log, so no /_emulator/calls: it costs every request a few log writes (benches)",
    )
    args = parser.parse_args()
    if args.exit_with_parent:
        parent = os.getppid()

        def watch():
            while os.getppid() == parent:
                time.sleep(0.5)
            stop()
            os._exit(0)

        threading.Thread(target=watch, daemon=True).start()
    Handler.azurite = args.azurite
    STATE["call_log"] = not args.no_call_log
    start(args.azurite, STATE["call_log"])
    atexit.register(stop)
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    print(f"azurite: blob service on 127.0.0.1:{STATE['port']}, control on 127.0.0.1:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

"""What the AWS emulator's parts share: its settings (latency, faults, held and delayed
operations), its call log, and the timed transitions that move objects out of their
pending states. A module of its own so the service patches and the middleware hold the
same objects, whichever of them is imported first.
"""

import os
import random
import threading
import time

LOCK = threading.RLock()
# Held while moto applies a change (see Middleware.__call__).
MUTATING = threading.Lock()


class Settings:
    def __init__(self):
        self.latency_ms = float(os.environ.get("CAIRN_MOTO_LATENCY_MS", "0"))
        self.throttle_rate = float(os.environ.get("CAIRN_MOTO_THROTTLE_RATE", "0"))
        self.error_rate = float(os.environ.get("CAIRN_MOTO_ERROR_RATE", "0"))
        self.transition_ms = float(os.environ.get("CAIRN_MOTO_TRANSITION_MS", "300"))
        self.rng = random.Random(int(os.environ.get("CAIRN_MOTO_SEED", "0")))
        self.hold = set()
        self.delay = {}

    def as_dict(self):
        return {
            "latency_ms": self.latency_ms,
            "throttle_rate": self.throttle_rate,
            "error_rate": self.error_rate,
            "transition_ms": self.transition_ms,
            "hold": sorted(self.hold),
            "delay": dict(self.delay),
        }

    def update(self, d):
        for k in ("latency_ms", "throttle_rate", "error_rate", "transition_ms"):
            if k in d:
                setattr(self, k, float(d[k]))
        if "seed" in d:
            self.rng = random.Random(int(d["seed"]))
        if "delay" in d:
            self.delay = {k: float(v) for k, v in d["delay"].items()}
        if "hold" in d:
            self.hold = set(d["hold"])
            if self.hold:
                RELEASED.clear()
            else:
                RELEASED.set()

    def holds(self, operation):
        """Whether `operation` is held: named exactly, or prefixed by an entry ending in *."""
        return any(matches(h, operation) for h in self.hold)

    def delay_of(self, operation):
        """Milliseconds before `operation` takes effect (0: at once)."""
        return max((ms for k, ms in self.delay.items() if matches(k, operation)), default=0)


def matches(pattern, operation):
    return operation == pattern or (pattern.endswith("*") and operation.startswith(pattern[:-1]))


RELEASED = threading.Event()
RELEASED.set()
SETTINGS = Settings()
CALLS = []
# Calls whose answers are held right now.
HELD = []


# ---------------------------------------------------------------------------------------
# Timed transitions: (deadline, callback), applied lazily before every request.

TRANSITIONS = []


def later(fn):
    """Run `fn` once the configured pending period has passed."""
    with LOCK:
        TRANSITIONS.append((time.monotonic() + SETTINGS.transition_ms / 1000.0, fn))


def settle_later(obj, attr, pending, final):
    """Put `obj.attr` in its pending state now, and in `final` once the period has passed
    (unless something else moved it meanwhile)."""
    setattr(obj, attr, pending)

    def settle():
        if getattr(obj, attr) == pending:
            setattr(obj, attr, final)

    later(settle)


def settle_later_key(d, key, pending, final):
    """`settle_later` for a dict entry."""
    d[key] = pending

    def settle():
        if d.get(key) == pending:
            d[key] = final

    later(settle)


def advance():
    now = time.monotonic()
    with LOCK:
        due = [t for t in TRANSITIONS if t[0] <= now]
        TRANSITIONS[:] = [t for t in TRANSITIONS if t[0] > now]
    for _, fn in due:
        try:
            fn()
        except Exception:  # the object may be gone already; nothing to move on
            pass

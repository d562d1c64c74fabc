"""Regenerate proto_enums.json: the protobuf numbers of the enums of the proto-based APIs
the GCP emulator serves (Cloud SQL Admin, Memorystore, Managed Kafka, Secret Manager) and
of the google.type ones they use (DayOfWeek in Memorystore's maintenance windows).

Why: Google's proto3 JSON takes an enum as its name or its number, and the official Rust
clients send numbers; discovery documents list only the names. The numbers are read here
from the Rust crates' generated models (in the cargo registry, after a build) and kept in
the emulator's directory, so the emulator itself needs nothing from outside at run time.

Run by hand when the crates are upgraded:
    python3 tests/emulators/gcp/gen_proto_enums.py
"""

import glob
import json
import os
import re

# google-cloud-type: google.type.DayOfWeek (Memorystore's maintenance windows).
CRATES = ["google-cloud-sql-v1", "google-cloud-redis-v1", "google-cloud-managedkafka-v1", "google-cloud-secretmanager-v1", "google-cloud-type"]


def newest(crate):
    found = sorted(glob.glob(os.path.expanduser(f"~/.cargo/registry/src/*/{crate}-[0-9]*/src/model.rs")))
    return found[-1] if found else None


def tables(text):
    """Every enum's {NAME: number}, from its `value()` and `name()` match arms."""
    out = []
    for block in re.finditer(r"pub fn value\(&self\) -> std::option::Option<i32> \{(.*?)\n\s*\}\n\s*\}", text, re.S):
        # rustfmt wraps a long arm in braces: `Self::X => {\n Some(...)\n }`.
        numbers = dict(re.findall(r"Self::(\w+) => \{?\s*std::option::Option::Some\((-?\d+)\)", block.group(1)))
        rest = text[block.end() : block.end() + 20000]
        names_block = re.search(r"pub fn name\(&self\) -> std::option::Option<&str> \{(.*?)\n\s*\}\n\s*\}", rest, re.S)
        names = dict(re.findall(r'Self::(\w+) => \{?\s*std::option::Option::Some\("(\w+)"\)', names_block.group(1)))
        out.append({names[v]: int(n) for v, n in numbers.items() if v in names})
    return out


def main():
    found = []
    used = []
    for crate in CRATES:
        path = newest(crate)
        if path is None:
            print(f"{crate} is not in the cargo registry (not a dependency yet?): skipped")
            continue
        used.append(crate)
        with open(path, encoding="utf-8") as f:
            found.extend(tables(f.read()))
    unique = {json.dumps(t, sort_keys=True): t for t in found}
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "proto_enums.json"), "w", encoding="utf-8") as f:
        json.dump(sorted(unique.values(), key=lambda t: sorted(t)), f, indent=0, sort_keys=True)
        f.write("\n")
    print(f"{len(unique)} enums from {', '.join(used)}")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""check_arrows.py -- the include arrows between pgperf's folders.

Each folder holds one concern (docs/ARCHITECTURE.md, "Map").  A file may
include headers of its own folder and of the folders its folder's arrow
list names; a lower layer may not include a system header that would tie
it to the event loop or Redis.  Exits 1, naming each offending line, when
an include crosses a forbidden arrow.  Run by scripts/test.sh.
"""
import os
import re
import subprocess
import sys

# folder -> folders it may include (besides itself)
ALLOWED = {
    "lib": set(),                       # libc only
    "proto": {"lib"},                   # the wire protocol, without I/O
    "analyzer": {"lib"},                # the analyzer thread only
    "tap": {"lib", "proto", "analyzer", "proxy"},      # not cache, console
    "cache": {"lib", "proto", "analyzer", "proxy"},
    "fleet": {"lib", "analyzer"},       # its own thread and Redis
    "proxy": {"lib", "proto", "analyzer", "tap", "cache", "console",
              "fleet"},
    "console": {"lib", "proto", "analyzer", "tap", "cache", "proxy",
                "fleet"},
}

# system headers a folder may not include
FORBIDDEN_SYSTEM = {
    "lib": ("event2/", "hiredis/", "libpq-fe.h", "openssl/", "pg_query"),
    "proto": ("event2/", "hiredis/", "libpq-fe.h", "pg_query"),
    "analyzer": ("event2/", "hiredis/"),
    "fleet": ("event2/", "libpq-fe.h", "pg_query"),
}

# Arrows that exist and are wrong, each with why it is still there.  A new
# one fails the check; an entry whose include is gone fails it too, so the
# list only shrinks.
KNOWN = {
}

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]')


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    files = subprocess.check_output(
        ["git", "ls-files", "*.c", "*.h"], cwd=root, text=True).split()
    bad, seen = [], set()
    for path in files:
        folder = path.split("/", 1)[0]
        if folder not in ALLOWED:
            continue  # tests, bench, ctl: may include anything
        with open(os.path.join(root, path), encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                kind, name = m.groups()
                if kind == "<":
                    if name.startswith(FORBIDDEN_SYSTEM.get(folder, ())):
                        bad.append(f"{path}:{n}: {folder}/ may not include "
                                   f"<{name}>")
                    continue
                if "/" not in name:
                    continue  # a private header of the same folder
                to = name.split("/", 1)[0]
                if to == folder or to in ALLOWED[folder]:
                    continue
                if (path, name) in KNOWN:
                    seen.add((path, name))
                    continue
                bad.append(f"{path}:{n}: {folder}/ may not include "
                           f"\"{name}\" ({folder} -> {to} is not an arrow)")
    for key in sorted(set(KNOWN) - seen):
        bad.append(f"{key[0]}: no longer includes {key[1]}: remove it from "
                   "KNOWN in scripts/check_arrows.py")
    for b in bad:
        print(b, file=sys.stderr)
    if bad:
        print(f"check_arrows: {len(bad)} include(s) against the map",
              file=sys.stderr)
        return 1
    print(f"check_arrows: {len(files)} files, includes follow the map")
    return 0


if __name__ == "__main__":
    sys.exit(main())

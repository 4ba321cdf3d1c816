#!/usr/bin/python3
"""Prints the interpreter's own site-/dist-packages directory under the
prefix given (Debian: /usr/local/lib/python3.X/dist-packages for
/usr/local, /usr/lib/python3/dist-packages for /usr), or nothing when it
has none there. Used by python/meson.build at configure time."""
import os
import sys

prefix = os.path.abspath(sys.argv[1])
for path in sys.path:
    if not path or not os.path.isabs(path):
        continue
    rel = os.path.relpath(path, prefix)
    if rel.split(os.sep)[0] in ("lib", "lib64") and path.endswith(("site-packages", "dist-packages")):
        print(path)
        break

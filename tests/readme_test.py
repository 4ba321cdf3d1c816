#!/usr/bin/python3
"""Runs every ```sh block of README.md as written, each in a fresh
temporary folder with the built promsqlite and promsqlite-server first on
PATH (as after the install step), and fails when one exits non-zero.

A block runs unless the line before it says why not:
    <!-- readme-test: skip: REASON -->            (e.g. it needs a Pushgateway)
    <!-- readme-test: in a meson project -->     (the folder holds a small meson
                                                    project with one passing test)
Prints one line per block and a doctest-style summary, which scripts/test
counts.

Usage: readme_test.py README.md BUILD_ROOT
"""
import os
import re
import subprocess
import sys
import tempfile

MARKER = re.compile(r"<!--\s*readme-test:\s*(.*?)\s*-->")

MESON_PROJECT = {
    "meson.build": "project('app', 'c')\ntest('runs', executable('app', 'app.c'))\n",
    "app.c": "int main(void) { return 0; }\n",
}


def blocks(text):
    """[(line number, marker or None, code)] of the ```sh blocks."""
    out, lines, i = [], text.splitlines(), 0
    while i < len(lines):
        if lines[i].strip() == "```sh":
            start, code = i + 1, []
            j = i + 1
            while lines[j].strip() != "```":
                code.append(lines[j])
                j += 1
            before = next((l for l in reversed(lines[:i]) if l.strip()), "")
            marker = MARKER.search(before)
            out.append((start, marker.group(1) if marker else None, "\n".join(code) + "\n"))
            i = j
        i += 1
    return out


def main():
    readme, build_root = sys.argv[1], os.path.abspath(sys.argv[2])
    with open(readme) as f:
        found = blocks(f.read())
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([os.path.join(build_root, "cli"), os.path.join(build_root, "server"),
                                   env.get("PATH", "/usr/bin:/bin")])
    for name in ("PROMSQLITE_DB", "PROMSQLITE_MODE", "CI_JOB_ID", "RUNNER_ID"):
        env.pop(name, None)
    passed = failed = 0
    for line, marker, code in found:
        if marker and marker.startswith("skip:"):
            print("README.md:%d: not run (%s)" % (line, marker[len("skip:"):].strip()))
            continue
        if marker and marker != "in a meson project":
            print("README.md:%d: unknown marker %r" % (line, marker))
            failed += 1
            continue
        with tempfile.TemporaryDirectory(prefix="promsqlite-readme-") as folder:
            if marker == "in a meson project":
                for name, content in MESON_PROJECT.items():
                    with open(os.path.join(folder, name), "w") as f:
                        f.write(content)
            run_env = dict(env, HOME=folder)
            result = subprocess.run(["bash", "-e", "-o", "pipefail", "-c", code], cwd=folder, env=run_env,
                                    capture_output=True, text=True, timeout=300)
        if result.returncode == 0:
            passed += 1
            print("README.md:%d: ok" % line)
        else:
            failed += 1
            print("README.md:%d: FAILED with exit status %d\n--- block:\n%s--- stdout:\n%s--- stderr:\n%s"
                  % (line, result.returncode, code, result.stdout, result.stderr))
    if passed == 0:
        print("no README block ran")
        failed += 1
    print("[readme] test cases: %d | %d passed | %d failed" % (passed + failed, passed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

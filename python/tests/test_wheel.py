"""`pip wheel --no-build-isolation .` (pyproject.toml, meson-python) builds
a wheel of the package alone, versioned as meson.build, with the C++
library linked into its extension. Installed into a fresh venv (no system
site-packages, so no prometheus_client either) it imports from there, needs
no libpromsqlite.so, two processes add to one counter in one file exactly,
and mypy --strict finds its types (py.typed).

Building the wheel compiles the library: about 20 s on two cores."""
import os
import re
import subprocess
import sys
import time
import zipfile

import pytest

SOURCE_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
TYPED_EXAMPLE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "typed_example.py")
INCREMENTS = 2000  # per process

WRITER = """
import sys
import promsqlite
promsqlite.set_db(sys.argv[1])
counter = promsqlite.Counter("wheel_writes", "Increments by the wheel's writer processes.")
print(promsqlite.__file__, flush=True)
sys.stdin.readline()  # both processes are ready: go
for _ in range(int(sys.argv[2])):
    counter.inc()
"""


def clean_env():
    """The environment without what would let the venv's python see the
    build directory's package (meson test sets PYTHONPATH) or another file."""
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "PYTHONHOME", "MYPYPATH", "PROMSQLITE_DB")}


def run(args, cwd, timeout=600):
    result = subprocess.run(args, capture_output=True, text=True, cwd=str(cwd), env=clean_env(), timeout=timeout)
    assert result.returncode == 0, "%s failed (%d):\n%s\n%s" % (" ".join(map(str, args)), result.returncode,
                                                               result.stdout, result.stderr)
    return result


def meson_version():
    with open(os.path.join(SOURCE_ROOT, "meson.build")) as f:
        return re.search(r"^\s*version:\s*'([^']+)'", f.read(), re.M).group(1)


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """(wheel path, venv python, seconds the build took): the wheel built
    from the source tree and installed into a fresh venv."""
    for module, package in (("mesonpy", "python3-mesonpy"), ("pip", "python3-pip"), ("ensurepip", "python3-venv")):
        pytest.importorskip(module, reason="needs %s" % package)
    work = tmp_path_factory.mktemp("wheel")
    start = time.monotonic()
    # --no-index: nothing to download (--no-build-isolation: the build uses this python's meson-python).
    run([sys.executable, "-m", "pip", "wheel", "--no-build-isolation", "--no-deps", "--no-index",
         "--wheel-dir", str(work / "dist"), SOURCE_ROOT], cwd=work)
    seconds = time.monotonic() - start
    wheels = os.listdir(str(work / "dist"))
    assert len(wheels) == 1, wheels
    venv = work / "venv"
    run([sys.executable, "-m", "venv", str(venv)], cwd=work)
    python = str(venv / "bin" / "python")
    run([python, "-m", "pip", "install", "--no-index", "--no-deps", str(work / "dist" / wheels[0])], cwd=work)
    sys.stderr.write("wheel built in %.0f s\n" % seconds)
    return str(work / "dist" / wheels[0]), python, seconds


def test_the_wheel_holds_the_package_alone_versioned_as_meson_build(built):
    wheel, _, _ = built
    version = meson_version()
    assert re.fullmatch(r"promsqlite-%s-cp\d+-cp\d+\w*-linux_\w+\.whl" % re.escape(version),
                        os.path.basename(wheel)), wheel
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        metadata = z.read("promsqlite-%s.dist-info/METADATA" % version).decode()
    package = [n for n in names if not n.startswith("promsqlite-%s.dist-info/" % version)]
    extensions = [n for n in package if re.fullmatch(r"promsqlite/_promsqlite\.cpython-\d+-.+\.so", n)]
    assert len(extensions) == 1, names  # and no libpromsqlite beside it, no headers, tools or data
    assert sorted(set(package) - set(extensions)) == [
        "promsqlite/__init__.py", "promsqlite/__init__.pyi", "promsqlite/_promsqlite.pyi", "promsqlite/py.typed"], names
    assert "Name: promsqlite\n" in metadata and "Version: %s\n" % version in metadata


def test_the_installed_extension_needs_no_libpromsqlite(built):
    _, python, _ = built
    out = run([python, "-c", "import importlib.util, promsqlite._promsqlite as m; print(m.__file__);"
                             "print(importlib.util.find_spec('prometheus_client'))"], cwd=os.path.dirname(python))
    extension, client = out.stdout.splitlines()
    assert extension.startswith(os.path.dirname(os.path.dirname(python)) + os.sep), extension
    assert client == "None"  # a plain venv: the package imports without prometheus_client
    ldd = run(["ldd", extension], cwd="/").stdout
    assert "libpromsqlite" not in ldd and "not found" not in ldd, ldd
    dynamic = run(["readelf", "-d", extension], cwd="/").stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", dynamic)
    assert needed and not [n for n in needed if "promsqlite" in n], needed
    assert "RPATH" not in dynamic and "RUNPATH" not in dynamic, dynamic  # nothing searched beside it
    # The library's symbols stay inside the extension: it exports its init function and no promsqlite::.
    symbols = run(["nm", "-D", "--defined-only", "-C", extension], cwd="/").stdout
    assert "PyInit__promsqlite" in symbols
    assert not re.search(r"\b(promsqlite|SQLite)::\w+\(", symbols), symbols


def test_two_processes_of_the_venv_add_to_one_counter_exactly(built, tmp_path):
    _, python, _ = built
    db = str(tmp_path / "wheel.db")
    writers = [subprocess.Popen([python, "-c", WRITER, db, str(INCREMENTS)], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, cwd=str(tmp_path), env=clean_env())
               for _ in range(2)]
    try:
        for w in writers:
            imported = w.stdout.readline().strip()
            assert imported.startswith(os.path.dirname(os.path.dirname(python)) + os.sep), imported
        for w in writers:  # both declared the counter in the file; now they write at once
            w.stdin.write("go\n")
            w.stdin.flush()
        for w in writers:
            assert w.wait(timeout=300) == 0
    finally:
        for w in writers:
            if w.poll() is None:
                w.kill()
                w.wait()
    body = run([python, "-c", "import promsqlite, sys; sys.stdout.write(promsqlite.generate_latest(sys.argv[1])"
                              ".decode())", db], cwd=tmp_path).stdout
    totals = re.findall(r"^wheel_writes_total (\S+)$", body, re.M)
    assert [float(t) for t in totals] == [2 * INCREMENTS], body


def test_the_typed_example_runs_in_the_venv_and_mypy_finds_the_installed_types(built, tmp_path):
    pytest.importorskip("mypy", reason="needs python3-mypy")
    _, python, _ = built
    out = run([python, TYPED_EXAMPLE, str(tmp_path / "typed.db")], cwd=tmp_path).stdout
    assert out.startswith("value 256 done 3 slow_count 1 conflict DeclarationConflict error DatabaseError "
                          "jobs None "), out  # None: no prometheus_client in the venv, no FileCollector
    assert 'jobs_total{queue="slow"} 2' in out.splitlines(), out
    # The venv has no prometheus_client: its types are unknown there, promsqlite's are the wheel's.
    (tmp_path / "mypy.ini").write_text("[mypy]\n[mypy-prometheus_client.*]\nignore_missing_imports = True\n")
    (tmp_path / "misuse.py").write_text("import promsqlite\npromsqlite.Counter('c', 'C.').inc('1')\n")
    mypy = [sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
            "--config-file", str(tmp_path / "mypy.ini"), "--python-executable", python]
    result = subprocess.run(mypy + [TYPED_EXAMPLE], capture_output=True, text=True, cwd=str(tmp_path),
                            env=clean_env(), timeout=300)
    assert result.returncode == 0 and "Success: no issues found" in result.stdout, result.stdout + result.stderr
    result = subprocess.run(mypy + ["misuse.py"], capture_output=True, text=True, cwd=str(tmp_path),
                            env=clean_env(), timeout=300)
    assert re.findall(r"^misuse\.py:(\d+): error: .*\[(\S+)\]$", result.stdout, re.M) == [("2", "arg-type")], \
        result.stdout + result.stderr


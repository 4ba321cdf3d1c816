"""`meson install` puts the package into the interpreter's site-packages
(here staged under a DESTDIR), and the installed copy imports and works."""
import glob
import os
import subprocess
import sys
import sysconfig

import pytest

BUILD_ROOT = os.environ.get("PROMSQLITE_BUILD_ROOT")


@pytest.mark.skipif(not BUILD_ROOT, reason="run by meson test (PROMSQLITE_BUILD_ROOT)")
def test_the_installed_package_imports_and_writes(tmp_path):
    stage = tmp_path / "root"
    subprocess.run(["meson", "install", "-C", BUILD_ROOT, "--destdir", str(stage), "--no-rebuild"],
                   check=True, capture_output=True)
    inits = glob.glob(str(stage / "**" / "promsqlite" / "__init__.py"), recursive=True)
    assert len(inits) == 1, inits
    package = os.path.dirname(inits[0])
    site = os.path.dirname(package)
    # A directory this python3 searches, once the files are at their real place.
    assert site[len(str(stage)):] in sys.path, site
    extensions = glob.glob(os.path.join(package, "_promsqlite*" + sysconfig.get_config_var("EXT_SUFFIX")))
    assert len(extensions) == 1, os.listdir(package)
    runpath = subprocess.run(["readelf", "-d", extensions[0]], capture_output=True, text=True).stdout
    libraries = glob.glob(str(stage / "**" / "libpromsqlite.so.*"), recursive=True)
    assert libraries
    libdir = os.path.dirname(libraries[0])
    # Found through its RUNPATH after a real install (no ldconfig needed).
    assert "RUNPATH" in runpath and libdir[len(str(stage)):] in runpath, runpath
    db = str(tmp_path / "installed.db")
    result = subprocess.run(
        [sys.executable, "-c", "import promsqlite, sys; print(promsqlite.__file__);"
                               "promsqlite.set_db(sys.argv[1]); promsqlite.Counter('installed', 'I.').inc(2);"
                               "sys.stdout.write(promsqlite.generate_latest().decode())", db],
        capture_output=True, text=True, cwd=str(tmp_path),
        env=dict(os.environ, PYTHONPATH=site, LD_LIBRARY_PATH=libdir))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == inits[0]
    assert "installed_total 2" in lines

"""The package's type stubs (promsqlite/__init__.pyi and _promsqlite.pyi,
with the PEP 561 marker py.typed): `mypy --strict` accepts typed_example.py,
which also runs; it rejects misuse that the stubs describe; and the stubs
declare what the package has, as it has it (names, methods, parameters),
so that they cannot drift from __init__.py unnoticed."""
import ast
import inspect
import os
import re
import subprocess
import sys

import pytest

import promsqlite
from promsqlite import _promsqlite

pytest.importorskip("mypy", reason="needs python3-mypy")

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(os.path.abspath(promsqlite.__file__))  # under meson test: the build directory's copy


def mypy(*args, cwd):
    """mypy --strict on `args`. The stubs are found through MYPYPATH, so
    errors inside them are reported too; on PYTHONPATH as well, mypy would
    take them for an installed package and keep quiet about them."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MYPYPATH"] = os.path.dirname(PACKAGE)
    return subprocess.run([sys.executable, "-m", "mypy", "--strict", "--no-incremental", "--cache-dir", os.devnull,
                           "--show-error-codes", *args], capture_output=True, text=True, cwd=str(cwd), env=env,
                          timeout=300)


def test_mypy_strict_accepts_the_typed_example_which_runs(tmp_path):
    result = mypy(os.path.join(HERE, "typed_example.py"), cwd=tmp_path)
    assert result.returncode == 0 and "Success: no issues found" in result.stdout, result.stdout + result.stderr
    run = subprocess.run([sys.executable, os.path.join(HERE, "typed_example.py"), str(tmp_path / "typed.db")],
                         capture_output=True, text=True, cwd=str(tmp_path), timeout=120)
    assert run.returncode == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("value 256 done 3 slow_count 1 conflict DeclarationConflict error DatabaseError "
                               "jobs 3.0 buckets 15 "), lines[0]
    for line in ['jobs_total{queue="fast"} 1', 'jobs_total{queue="slow"} 2', "job_errors_total 1",
                 'phase{phase="running"} 1', "jobs_in_flight 0", 'job_seconds_count{queue="fast"} 1',
                 'build_info{version="%s"} 1' % promsqlite.__version__]:
        assert line in lines, run.stdout


MISUSE = '''
import promsqlite
from typing import Optional
from promsqlite import Counter, Gauge, Histogram, Info, set_db, setup

ERRORS = Counter("errors", "Errors.")

@ERRORS.count_exceptions()
def parse(text: str, base: int = 10) -> int:
    return int(text, base)

@Gauge("last_seconds", "Last run.").time()
async def run() -> int:
    return 1

Counter("c", "C.").inc("1")  # E: arg-type
set_db("x.db", write_mode="fast")  # E: arg-type
set_db("x.db", flush_interval=5)  # E: call-arg
setup(redis="localhost:6379")  # E: arg-type
parse("1", base="16")  # E: arg-type
n: int = run()  # E: assignment
Histogram("h", "H.", ["q"]).labels("a").labels("b")  # E: attr-defined
path: str = promsqlite.get_db()  # E: assignment
Gauge("g", "G.", multiprocess_mode="average")  # E: arg-type
Counter("t", "T.", ttl="1h")  # E: arg-type
Info("i", "I.").info({"k": 1})  # E: dict-item
Counter("e", "E.").inc(1, exemplar={"trace_id": 7})  # E: dict-item
body: str = promsqlite.generate_latest()  # E: assignment
promsqlite.generate_latest(format="json")  # E: arg-type
promsqlite.no_such_name  # E: attr-defined
ok: Optional[str] = promsqlite.get_db()
'''


def test_mypy_rejects_misuse_that_the_stubs_describe(tmp_path):
    (tmp_path / "misuse.py").write_text(MISUSE)
    result = mypy("misuse.py", cwd=tmp_path)
    expected = {i + 1: m.group(1) for i, line in enumerate(MISUSE.splitlines())
                for m in [re.search(r"# E: (\S+)$", line)] if m}
    found = {int(m.group(1)): m.group(2)
             for m in re.finditer(r"^misuse\.py:(\d+): error: .*\[([a-z-]+)\]$", result.stdout, re.M)}
    assert found == expected, result.stdout + result.stderr


# --- the stubs against the package ------------------------------------------

def stub(name):
    with open(os.path.join(PACKAGE, name)) as f:
        return ast.parse(f.read())


def stub_params(function):
    """[(name, kind)] of a stub's def, without self, as inspect names the kinds."""
    a = function.args
    params = [(p.arg, "POSITIONAL_ONLY") for p in a.posonlyargs]
    params += [(p.arg, "POSITIONAL_OR_KEYWORD") for p in a.args]
    params += [(a.vararg.arg, "VAR_POSITIONAL")] if a.vararg else []
    params += [(p.arg, "KEYWORD_ONLY") for p in a.kwonlyargs]
    params += [(a.kwarg.arg, "VAR_KEYWORD")] if a.kwarg else []
    return [p for p in params if p[0] != "self"]


def runtime_params(function):
    return [(p.name, p.kind.name) for p in inspect.signature(function).parameters.values() if p.name != "self"]


def stub_classes(tree):
    """{class: {member: node}}, members of stub base classes included."""
    classes = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            members = {}
            for base in node.bases:
                if isinstance(base, ast.Name) and base.id in classes:
                    members.update(classes[base.id])
            for item in node.body:
                if isinstance(item, ast.FunctionDef):
                    members[item.name] = item
                elif isinstance(item, ast.AnnAssign):
                    members[item.target.id] = item
            classes[node.name] = members
    return classes


def known_options(tmp_path):
    """The option names set_db() takes, from the library's own message."""
    with pytest.raises(ValueError) as e:
        promsqlite.set_db(str(tmp_path / "options.db"), no_such_option=1)
    return set(re.search(r"\(known: ([a-z_, ]+)\)", str(e.value)).group(1).split(", "))


def test_the_stubs_declare_every_public_name_and_no_other():
    tree = stub("__init__.pyi")
    declared = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            declared[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            declared[node.target.id] = node
        elif isinstance(node, ast.Assign) and node.targets[0].id == "__all__":
            stub_all = ast.literal_eval(node.value)
        elif isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if alias.asname == alias.name:  # `import X as X`: re-exported
                    declared[alias.name] = node
    assert stub_all == promsqlite.__all__
    public = {name for name in declared if not name.startswith("_")}
    assert public == set(promsqlite.__all__)
    for name in declared:
        assert hasattr(promsqlite, name), "the stub declares %s, which promsqlite does not have" % name


def test_the_stubs_declare_each_function_s_parameters_as_it_takes_them(tmp_path):
    functions = {node.name: node for node in stub("__init__.pyi").body if isinstance(node, ast.FunctionDef)}
    options = known_options(tmp_path)
    for name, node in functions.items():
        declared, actual = stub_params(node), runtime_params(getattr(promsqlite, name))
        if actual and actual[-1] == ("options", "VAR_KEYWORD"):
            # **options: one keyword-only parameter per option of the library.
            actual = actual[:-1]
            spelled = declared[len(actual):]
            assert {n for n, _ in spelled} == options and {k for _, k in spelled} == {"KEYWORD_ONLY"}, name
            declared = declared[:len(actual)]
        assert declared == actual, name


def test_the_stubs_declare_each_class_s_methods_and_parameters():
    classes = stub_classes(stub("__init__.pyi"))
    children = stub_classes(stub("_promsqlite.pyi"))
    pairs = [(getattr(promsqlite, name), classes[name]) for name in promsqlite.__all__
             if inspect.isclass(getattr(promsqlite, name)) and not issubclass(getattr(promsqlite, name), Exception)]
    pairs += [(promsqlite._Timer, classes["_Timer"]), (promsqlite._ExceptionCounter, classes["_ExceptionCounter"]),
              (promsqlite._InprogressTracker, classes["_InprogressTracker"]),
              (promsqlite._InfoChild, dict(classes["_InfoChild"], labels=None))]
    # The children's labels() only raises "already a child": left out, so mypy reports the mistake.
    pairs += [(getattr(_promsqlite, name), dict(members, labels=None)) for name, members in children.items()
              if name.endswith("Child")]
    for cls, members in pairs:
        public = {m for m in dir(cls) if not m.startswith("_")}
        assert public == {m for m in members if not m.startswith("_")}, cls
        for member, node in members.items():
            attribute = getattr(cls, member)
            if isinstance(node, ast.FunctionDef) and inspect.isfunction(attribute):  # not the C++ methods
                assert stub_params(node) == runtime_params(attribute), (cls, member)

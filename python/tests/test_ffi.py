"""The raw ctypes layer (daos_rs._ffi, daos_rs._lib) against include/daos_rs.h.

Layouts and macro values are checked against the C compiler: a C program
generated from the mirrors is compiled with gcc against the header and run.
Prototypes are checked against the header's declarations, parsed here. The
header is found from this file's place in the source tree (python/tests/ ->
the repository); the package tested is whichever ``daos_rs`` is imported (the
installed one under ``make test``).
"""

import ctypes
import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
from ctypes import (POINTER, addressof, byref, c_bool, c_char_p, c_int, c_int32, c_int64, c_uint,
                    c_uint32, c_uint64, c_ulong, c_void_p)
from pathlib import Path

import pytest

from daos_rs import _ffi, _lib

ROOT = Path(__file__).resolve().parent.parent.parent  # python/tests/ -> the repository
HEADER = ROOT / "include" / "daos_rs.h"
PKG_DIR = Path(_ffi.__file__).resolve().parent  # the daos_rs package under test

# Structs ending in a flexible array member: mirrored as their fixed part, with
# a function building a type with room for n elements.
FLEX = {"daos_mmd": ("mmd_frag", _ffi.mmd_type, _ffi.daos_mm_frag),
        "daos_iod": ("iod_frag", _ffi.iod_type, _ffi.daos_io_frag)}

# DAOS_* macros that are not numbers (include guard, attribute).
NON_NUMERIC_MACROS = {"DAOS_RS_H", "DAOS_RS_FLEX"}

# Macros whose Python value is deliberately not the C value: DAOS_EPOCH_HIGHEST
# is -1 in C and used as an epoch sequence number (uint64_t), i.e. 2^64-1.
AS_UINT64 = {"DAOS_EPOCH_HIGHEST"}


# --- parsing the header ----------------------------------------------------


def header_text():
    if not HEADER.is_file():
        pytest.skip("header not found at %s (not a source tree?)" % HEADER)
    return HEADER.read_text()


def strip_comments(text):
    text = re.sub(r"/\*.*?\*/", " ", text, flags=re.S)
    return re.sub(r"//[^\n]*", " ", text)


def code_text():
    """The header without comments, preprocessor lines and extern "C" braces."""
    text = strip_comments(header_text())
    text = "\n".join(l for l in text.splitlines() if not l.lstrip().startswith("#"))
    return re.sub(r'extern\s+"C"\s*\{', " ", text)


def norm_type(t):
    """'struct daos_event **' style: single spaces, each '*' its own token."""
    t = re.sub(r"\s*\*\s*", " * ", t)
    return re.sub(r"\s+", " ", t).strip()


def split_params(params):
    out, depth, cur = [], 0, ""
    for ch in params:
        if ch == "," and depth == 0:
            out.append(cur)
            cur = ""
            continue
        depth += ch == "("
        depth -= ch == ")"
        cur += ch
    if cur.strip():
        out.append(cur)
    return [p.strip() for p in out]


def param_type(param):
    """The type of 'unsigned int *size' -> 'unsigned int *' (names are always given)."""
    param = norm_type(param)
    if param == "void":
        return None
    m = re.fullmatch(r"(.*?)\s*\b(\w+)", param)
    assert m and m.group(1), "cannot parse parameter %r" % param
    return norm_type(m.group(1))


def header_functions():
    """name -> (return type, [parameter types]) for every function declared."""
    out = {}
    for stmt in code_text().split(";"):
        stmt = " ".join(stmt.split())
        if not stmt or "{" in stmt or "}" in stmt or stmt.startswith("typedef") or "(" not in stmt:
            continue
        m = re.fullmatch(r"(.+?)\b(\w+)\s*\((.*)\)", stmt)
        assert m, "cannot parse declaration %r" % stmt
        ret, name, params = m.groups()
        types = [param_type(p) for p in split_params(params)]
        out[name] = (norm_type(ret), [t for t in types if t is not None])
    return out


def header_scalar_typedefs():
    return dict((name, norm_type(base)) for base, name in
                re.findall(r"typedef\s+([\w ]+?)\s+(\w+)\s*;", code_text()))


def header_funcptr_typedefs():
    """name -> (return type, [parameter types]) for `typedef R (*name)(...)`."""
    out = {}
    for ret, name, params in re.findall(r"typedef\s+([\w\s*]+?)\s*\(\s*\*\s*(\w+)\s*\)\s*\(([^)]*)\)\s*;",
                                        code_text()):
        types = [param_type(p) for p in split_params(params)]
        out[name] = (norm_type(ret), [t for t in types if t is not None])
    return out


def header_structs():
    """name -> [(field, is_flexible_array, type, array length or None)] for every struct defined."""
    text = code_text()
    out = {}
    for name, body in re.findall(r"\bstruct\s+(\w+)\s*\{(.*?)\}", text, flags=re.S):
        fields = []
        for decl in body.split(";"):
            decl = " ".join(decl.replace("DAOS_RS_FLEX", " ").split())
            if not decl:
                continue
            m = re.fullmatch(r"(.*?)\s*\b(\w+)\s*(\[\s*([^\]]*)\])?", decl)
            assert m and m.group(1), "cannot parse field %r of struct %s" % (decl, name)
            dim = m.group(4).strip() if m.group(3) else None
            fields.append((m.group(2), dim == "", norm_type(m.group(1)), dim or None))
        out[name] = fields
    return out


def header_struct_names():
    """Every `struct X {` and `typedef struct X` name in the header."""
    text = code_text()
    return set(re.findall(r"\bstruct\s+(\w+)\s*\{", text)) | set(
        re.findall(r"\btypedef\s+struct\s+(\w+)", text))


def header_macros():
    """name -> value text, for every `#define DAOS_...` (value '' if none)."""
    out = {}
    for line in strip_comments(header_text()).splitlines():
        m = re.match(r"\s*#\s*define\s+(DAOS_\w+)(?:\s+(.*))?$", line)
        if m:
            out[m.group(1)] = (m.group(2) or "").strip()
    return out


NUMERIC = re.compile(r"(?:\s|0[xX][0-9a-fA-F]+[uUlL]*|\d+[uUlL]*|DAOS_\w+|<<|>>|[()|&~+\-])+")


def numeric_macros():
    return sorted(n for n, v in header_macros().items() if v and NUMERIC.fullmatch(v))


# --- compiling against the header ------------------------------------------


def compile_and_run(tmp_path, name, source):
    """Compiles SOURCE with gcc against the header and returns its stdout."""
    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc not found on PATH: cannot compare with the C compiler")
    header_text()  # skips if missing
    src = tmp_path / (name + ".c")
    exe = tmp_path / name
    src.write_text(source)
    cc = subprocess.run([gcc, "-std=c11", "-Wall", "-I", str(HEADER.parent), "-o", str(exe), str(src)],
                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    if cc.returncode != 0:
        pytest.fail("generated %s.c does not compile against the header:\n%s" % (name, cc.stdout))
    run = subprocess.run([str(exe)], stdout=subprocess.PIPE, universal_newlines=True, timeout=60)
    assert run.returncode == 0, "%s exited %d" % (name, run.returncode)
    return run.stdout


FLEX_COUNTS = (1, 2, 7)


@pytest.fixture(scope="module")
def c_layout(tmp_path_factory):
    """What gcc says: {struct: (size, align, {field: (offset, size)})} and, for
    the flexible arrays, {struct: (offsetof array, {n: offsetof array[n]}, elem size)}."""
    lines = []
    for name, t in _ffi.STRUCTS.items():
        lines.append('printf("S {0} %zu %zu\\n", sizeof(struct {0}), alignof(struct {0}));'.format(name))
        for field in (f[0] for f in t._fields_):
            lines.append('printf("F {0} {1} %zu %zu\\n", offsetof(struct {0}, {1}), '
                         'sizeof(((struct {0} *)0)->{1}));'.format(name, field))
    for name, (field, _, elem) in FLEX.items():
        lines.append('printf("X {0} {1} %zu %zu\\n", offsetof(struct {0}, {1}), sizeof(struct {2}));'
                     .format(name, field, elem.__name__))
        for n in FLEX_COUNTS:
            lines.append('printf("N {0} {1} %zu\\n", offsetof(struct {0}, {2}[{1}]));'
                         .format(name, n, field))
    source = ("#include <stdalign.h>\n#include <stddef.h>\n#include <stdio.h>\n"
              "#include \"daos_rs.h\"\nint main(void) {\n    "
              + "\n    ".join(lines) + "\n    return 0;\n}\n")
    out = compile_and_run(tmp_path_factory.mktemp("layout"), "layout", source)
    structs, flex = {}, {}
    for line in out.splitlines():
        w = line.split()
        if w[0] == "S":
            structs[w[1]] = (int(w[2]), int(w[3]), {})
        elif w[0] == "F":
            structs[w[1]][2][w[2]] = (int(w[3]), int(w[4]))
        elif w[0] == "X":
            flex[w[1]] = (int(w[3]), {}, int(w[4]))
        elif w[0] == "N":
            flex[w[1]][1][int(w[2])] = int(w[3])
    return structs, flex


@pytest.fixture(scope="module")
def c_macros(tmp_path_factory):
    """name -> (is negative, value as long long, value as unsigned long long)."""
    lines = ['printf("%s %d %lld %llu\\n", "{0}", ({0}) < 0, (long long)({0}), '
             '(unsigned long long)({0}));'.format(n) for n in numeric_macros()]
    source = ("#include <stdio.h>\n#include \"daos_rs.h\"\nint main(void) {\n    "
              + "\n    ".join(lines) + "\n    return 0;\n}\n")
    out = compile_and_run(tmp_path_factory.mktemp("macros"), "macros", source)
    return {w[0]: (w[1] == "1", int(w[2]), int(w[3])) for w in (l.split() for l in out.splitlines())}


# --- structs ----------------------------------------------------------------


def test_every_header_struct_is_mirrored():
    missing = header_struct_names() - set(_ffi.STRUCTS)
    assert not missing, "structs in the header without a mirror in _ffi.STRUCTS: %s" % sorted(missing)
    extra = set(_ffi.STRUCTS) - header_struct_names()
    assert not extra, "mirrors of structs the header does not define: %s" % sorted(extra)


def test_mirrors_are_named_as_in_c():
    for name, t in _ffi.STRUCTS.items():
        assert t.__name__ == name
        assert getattr(_ffi, name) is t


def test_flexible_array_structs_are_known():
    flexible = {s for s, fields in header_structs().items() if any(f[1] for f in fields)}
    assert flexible == set(FLEX), "structs ending in a flexible array: %s" % sorted(flexible)


@pytest.mark.parametrize("name", sorted(_ffi.STRUCTS))
def test_struct_fields_match_header(name):
    fields = header_structs().get(name)
    assert fields is not None, "struct %s not defined in the header" % name
    expected = [f[0] for f in fields if not f[1]]
    got = [f[0] for f in _ffi.STRUCTS[name]._fields_]
    assert got == expected, "struct %s: fields %s in _ffi, %s in the header" % (name, got, expected)


@pytest.mark.parametrize("name", sorted(_ffi.STRUCTS))
def test_struct_field_types_match_header(name):
    """Each field's ctypes type passes its C type (signedness, pointers: what layout cannot see)."""
    mirror = dict((f[0], f[1]) for f in _ffi.STRUCTS[name]._fields_)
    for field, flex, ctype, dim in header_structs()[name]:
        if flex:
            field_name, make, elem = FLEX[name]
            assert field == field_name and elem in accepted(ctype), "%s.%s[]" % (name, field)
            continue
        t = mirror.get(field)
        if dim is not None:
            n = int(dim) if dim.isdigit() else getattr(_ffi, dim)
            assert getattr(t, "_length_", None) == n, "%s.%s: %s, C has [%s]" % (name, field, tname(t), dim)
            t = t._type_
        ok = accepted(ctype)
        assert t in ok, "%s.%s (%s): ctypes %s, expected one of %s" % (
            name, field, ctype, tname(t), [tname(x) for x in ok])


@pytest.mark.parametrize("name", sorted(_ffi.STRUCTS))
def test_struct_layout_matches_c(name, c_layout):
    structs, _ = c_layout
    t = _ffi.STRUCTS[name]
    size, align, fields = structs[name]
    assert ctypes.sizeof(t) == size, "sizeof(struct %s): ctypes %d, C %d" % (name, ctypes.sizeof(t), size)
    assert ctypes.alignment(t) == align, "alignof(struct %s): ctypes %d, C %d" % (
        name, ctypes.alignment(t), align)
    for field, (off, fsize) in fields.items():
        d = getattr(t, field)
        assert (d.offset, d.size) == (off, fsize), "struct %s.%s: ctypes offset %d size %d, C %d %d" % (
            name, field, d.offset, d.size, off, fsize)


@pytest.mark.parametrize("name", sorted(FLEX))
def test_flexible_array_layout_matches_c(name, c_layout):
    _, flex = c_layout
    field, make, elem = FLEX[name]
    off, offs_n, esize = flex[name]
    assert ctypes.sizeof(elem) == esize
    # The fixed part ends where the array starts (no tail padding here).
    assert ctypes.sizeof(_ffi.STRUCTS[name]) == off, "sizeof(%s) %d, offsetof(%s) %d" % (
        name, ctypes.sizeof(_ffi.STRUCTS[name]), field, off)
    for n in FLEX_COUNTS:
        t = make(n)
        assert getattr(t, field).offset == off
        assert getattr(t, field).size == n * esize
        assert ctypes.sizeof(t) == offs_n[n], "%s with %d elements: ctypes %d bytes, C %d" % (
            name, n, ctypes.sizeof(t), offs_n[n])
        # The fixed part exactly as the mirror, then the array.
        assert t._fields_[:-1] == _ffi.STRUCTS[name]._fields_, "%s(%d): %s" % (make.__name__, n, t._fields_)
        assert t._fields_[-1][1]._type_ is elem
    assert make(3) is make(3), "sized types are cached"


# --- functions --------------------------------------------------------------

BASE = {"int": c_int, "unsigned int": c_uint, "int32_t": c_int32, "uint32_t": c_uint32,
        "int64_t": c_int64, "uint64_t": c_uint64, "bool": c_bool, "unsigned long": c_ulong,
        # <sys/types.h>, on Linux
        "uid_t": c_uint32, "gid_t": c_uint32}


def accepted(ctype):
    """The ctypes types that pass a C type correctly (list; first is the usual one)."""
    t = norm_type(ctype)
    if t.endswith("*"):
        inner = t[:-1].strip()
        if inner.endswith(" const"):  # a const pointer: same as a pointer
            inner = inner[:-len(" const")]
        if inner in ("void", "const void"):
            return [c_void_p]
        if inner in ("char", "const char"):
            return [c_char_p]
        out = [POINTER(x) for x in accepted(inner)]
        if struct_name(inner):
            out.append(c_void_p)  # an opaque pointer (the flexible-array structs)
        return out
    if t.startswith("const "):
        return accepted(t[len("const "):])
    if t == "void":
        return [None]
    if t in BASE:
        return [BASE[t]]
    s = struct_name(t)
    if s:
        assert s in _ffi.STRUCTS, "struct %s has no mirror" % s
        return [_ffi.STRUCTS[s]]
    if t in header_funcptr_typedefs():
        return [getattr(_ffi, t)]
    scalars = header_scalar_typedefs()
    if t in scalars:
        return accepted(scalars[t])
    raise AssertionError("the test does not know C type %r: teach accepted()" % t)


def struct_name(t):
    m = re.fullmatch(r"(?:const )?struct (\w+)", t)
    if m:
        return m.group(1)
    return t if t in _ffi.STRUCTS else None


def tname(t):
    return getattr(t, "__name__", repr(t))


def test_every_header_function_has_a_prototype():
    declared = set(header_functions())
    assert len(declared) >= 40, "parsed only %d functions from the header" % len(declared)
    missing = declared - set(_ffi.PROTOTYPES)
    assert not missing, "functions in the header without a prototype in _ffi: %s" % sorted(missing)
    extra = set(_ffi.PROTOTYPES) - declared
    assert not extra, "prototypes in _ffi for functions the header does not declare: %s" % sorted(extra)


@pytest.mark.parametrize("name", sorted(_ffi.PROTOTYPES))
def test_prototype_matches_header(name):
    decl = header_functions().get(name)
    assert decl is not None, "%s is not declared in the header" % name
    ret, params = decl
    restype, argtypes = _ffi.PROTOTYPES[name]
    assert len(argtypes) == len(params), "%s: %d argtypes, %d parameters in C (%s)" % (
        name, len(argtypes), len(params), ", ".join(params))
    ok = accepted(ret)
    assert restype in ok, "%s returns %s: restype %s, expected one of %s" % (
        name, ret, tname(restype), [tname(x) for x in ok])
    for i, (ct, at) in enumerate(zip(params, argtypes)):
        ok = accepted(ct)
        assert at in ok, "%s parameter %d (%s): argtype %s, expected one of %s" % (
            name, i, ct, tname(at), [tname(x) for x in ok])


def test_pointer_results_are_pointers():
    # The reason restype must be set: ctypes' default int truncates a pointer.
    ret, _ = header_functions()["daos_event_next"]
    assert ret.endswith("*")
    assert _ffi.PROTOTYPES["daos_event_next"][0] is POINTER(_ffi.daos_event)


@pytest.mark.parametrize("name", (sorted(header_funcptr_typedefs()) if HEADER.is_file() else []) or ["(none)"])
def test_callback_types_match_header(name):
    if name == "(none)":
        pytest.skip("the header declares no function pointer type")
    ret, params = header_funcptr_typedefs()[name]
    t = getattr(_ffi, name, None)
    assert t is not None, "function pointer type %s not in _ffi" % name
    assert t._restype_ in accepted(ret), "%s returns %s, CFUNCTYPE restype %s" % (name, ret, tname(t._restype_))
    assert len(t._argtypes_) == len(params)
    for ct, at in zip(params, t._argtypes_):
        assert at in accepted(ct), "%s parameter %s: %s" % (name, ct, tname(at))


@pytest.mark.parametrize("name", sorted(_ffi.PROTOTYPES))
def test_loaded_function_has_declared_types(name):
    restype, argtypes = _ffi.PROTOTYPES[name]
    f = getattr(_ffi.lib, name)
    assert f.restype is restype, "%s.restype is %s, declared %s" % (name, tname(f.restype), tname(restype))
    assert f.argtypes is not None and list(f.argtypes) == list(argtypes), "%s.argtypes not set as declared" % name


# --- constants ---------------------------------------------------------------


def test_every_daos_macro_is_known():
    odd = set(header_macros()) - set(numeric_macros()) - NON_NUMERIC_MACROS
    assert not odd, "DAOS_ macros neither numeric nor known to the test: %s" % sorted(odd)
    assert len(numeric_macros()) >= 50


def test_every_numeric_macro_is_mirrored():
    missing = [n for n in numeric_macros() if not isinstance(getattr(_ffi, n, None), int)]
    assert not missing, "numeric macros of the header missing from _ffi: %s" % missing
    stale = sorted(n for n, v in vars(_ffi).items()
                   if re.fullmatch(r"DAOS_[A-Z0-9_]+", n) and isinstance(v, int) and n not in numeric_macros())
    assert not stale, "constants in _ffi the header does not define: %s" % stale


@pytest.mark.parametrize("name", numeric_macros() if HEADER.is_file() else [])
def test_macro_value_matches_c(name, c_macros):
    negative, signed, unsigned = c_macros[name]
    got = getattr(_ffi, name, None)
    assert isinstance(got, int), "%s not in _ffi" % name
    if name in AS_UINT64:
        want = unsigned
    else:
        want = signed if negative else unsigned
    assert got == want, "%s: _ffi %d, C %d" % (name, got, want)


def test_version_matches_package_metadata():
    want = "%d.%d.%d" % (_ffi.DAOS_RS_VERSION_MAJOR, _ffi.DAOS_RS_VERSION_MINOR, _ffi.DAOS_RS_VERSION_PATCH)
    major, minor, patch = c_int(-1), c_int(-1), c_int(-1)
    assert _ffi.lib.daos_rs_version(byref(major), byref(minor), byref(patch)) == 0
    assert "%d.%d.%d" % (major.value, minor.value, patch.value) == want, "library and header differ"
    pyproject = ROOT / "python" / "pyproject.toml"
    if pyproject.is_file():
        m = re.search(r'^version\s*=\s*"([^"]+)"', pyproject.read_text(), flags=re.M)
        assert m and m.group(1) == want, "python/pyproject.toml version differs from the header's %s" % want
    try:
        from importlib import metadata
        dist = metadata.distribution("daos-rs")
    except Exception:  # not installed: testing the source tree
        return
    if Path(str(dist.locate_file("daos_rs"))).resolve() == PKG_DIR:  # the package under test
        assert dist.version == want


def test_package_under_test_is_installed():
    """scripts/python-tests.sh tests the installed package, not the source tree."""
    if os.environ.get("DAOS_RS_TEST_INSTALLED") != "1":
        pytest.skip("DAOS_RS_TEST_INSTALLED=1 not set: any daos_rs on sys.path is tested")
    import sysconfig
    site = {Path(sysconfig.get_paths()[k]).resolve() for k in ("purelib", "platlib")}
    assert PKG_DIR.parent in site, "daos_rs imported from %s, not from %s" % (PKG_DIR, sorted(map(str, site)))
    assert (ROOT / "python") not in PKG_DIR.parents


# --- library lookup (fresh interpreters) ---------------------------------------


def run_python(code, env_changes, cwd, path_entry=None):
    """Runs CODE in a new interpreter; returns (exit status, stdout + stderr)."""
    env = dict(os.environ)
    env.pop("DAOS_RS_LIB", None)
    env.pop("LD_LIBRARY_PATH", None)
    for k, v in env_changes.items():
        if v is None:
            env.pop(k, None)
        else:
            env[k] = v
    # The same daos_rs as this process (installed or source tree), not cwd's.
    entry = path_entry or str(PKG_DIR.parent)
    env["PYTHONPATH"] = entry + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    p = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=str(cwd),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True,
                       timeout=60)
    return p.returncode, p.stdout


IMPORT_FFI = """
    import sys
    try:
        import daos_rs._ffi
    except OSError as e:
        print("OSError:", e)
        sys.exit(3)
    print("loaded", daos_rs._ffi.lib._name)
"""


def test_missing_daos_rs_lib_raises_oserror_naming_it(tmp_path):
    missing = str(tmp_path / "no-such-dir" / "libdaos_rs.so")
    rc, out = run_python(IMPORT_FFI, {"DAOS_RS_LIB": missing}, tmp_path)
    assert rc == 3, out
    assert "OSError: " in out and missing in out, out


def test_daos_rs_lib_not_a_library_raises_oserror_naming_it(tmp_path):
    bogus = tmp_path / "libdaos_rs.so"
    bogus.write_text("not an ELF file\n")
    rc, out = run_python(IMPORT_FFI, {"DAOS_RS_LIB": str(bogus)}, tmp_path)
    assert rc == 3, out
    assert str(bogus) in out, out


def test_daos_rs_lib_is_used(tmp_path):
    real = _ffi.lib._name
    link = tmp_path / "elsewhere.so"
    link.symlink_to(real)
    rc, out = run_python(IMPORT_FFI, {"DAOS_RS_LIB": str(link)}, tmp_path)
    assert rc == 0 and out.strip() == "loaded " + str(link), out


@pytest.fixture
def fake_tree(tmp_path):
    """A source tree: ROOT/python/daos_rs/_lib.py (a copy) and empty target dirs."""
    pkg = tmp_path / "tree" / "python" / "daos_rs"
    pkg.mkdir(parents=True)
    shutil.copy(str(Path(_lib.__file__)), str(pkg / "_lib.py"))
    (pkg / "__init__.py").write_text("")  # only _lib: the real package loads the library
    for d in ("release", "debug"):
        (tmp_path / "tree" / "target" / d).mkdir(parents=True)
    return tmp_path / "tree"


LOOKUP = """
    import json, sys
    import daos_rs._lib as L
    out = {"candidates": L.candidates()}
    try:
        out["loaded"] = L.load()._name
    except OSError as e:
        out["error"] = str(e)
    print(json.dumps(out))
"""


def lookup(tree, env):
    rc, out = run_python(LOOKUP, env, tree.parent, path_entry=str(tree / "python"))
    assert rc == 0, out
    return json.loads(out.strip().splitlines()[-1])


def test_candidates_order(fake_tree):
    pkg = fake_tree / "python" / "daos_rs"
    release = fake_tree / "target" / "release" / _lib.LIB_NAME
    debug = fake_tree / "target" / "debug" / _lib.LIB_NAME
    beside = pkg / _lib.LIB_NAME
    # Copies, not symlinks: the order goes by modification time (which follows links).
    for p, t in ((release, 1000000000), (debug, 1000000100)):
        shutil.copy(_ffi.lib._name, str(p))
        os.utime(str(p), (t, t))

    env_lib = str(fake_tree / "chosen.so")
    got = lookup(fake_tree, {"DAOS_RS_LIB": env_lib})
    assert got["candidates"] == [env_lib, str(beside), str(debug), str(release), _lib.LIB_NAME]
    assert env_lib in got["error"]  # an explicit choice that is missing is an error

    # Without DAOS_RS_LIB: the newer cargo build first.
    got = lookup(fake_tree, {})
    assert got["candidates"] == [str(beside), str(debug), str(release), _lib.LIB_NAME]
    assert got["loaded"] == str(debug)
    os.utime(str(release), (1000000200, 1000000200))
    got = lookup(fake_tree, {})
    assert got["candidates"] == [str(beside), str(release), str(debug), _lib.LIB_NAME]
    assert got["loaded"] == str(release)

    # Beside the package beats the cargo builds.
    beside.symlink_to(_ffi.lib._name)
    assert lookup(fake_tree, {})["loaded"] == str(beside)


def test_loader_search_is_last(fake_tree):
    got = lookup(fake_tree, {})
    if "error" in got:
        assert "not found" in got["error"]
        for p in got["candidates"][:-1]:
            assert p in got["error"], "the error names every place tried: %s" % got["error"]
    else:  # a libdaos_rs.so installed in the system directories
        assert got["loaded"] == _lib.LIB_NAME
    # Nothing in the tree: the dynamic loader's search (LD_LIBRARY_PATH) finds it.
    got = lookup(fake_tree, {"LD_LIBRARY_PATH": str(Path(_ffi.lib._name).resolve().parent)})
    assert got.get("loaded") == _lib.LIB_NAME, got


# --- a smoke test through the raw layer ---------------------------------------


def test_event_queue_noop_round_trip():
    lib = _ffi.lib
    eq = _ffi.daos_handle_t()
    assert lib.daos_eq_create(byref(eq)) == 0
    try:
        fd = c_int(-1)
        assert lib.daos_eq_get_fd(eq, byref(fd)) == 0 and fd.value >= 0
        ev = _ffi.daos_event()
        assert lib.daos_event_init(byref(ev), eq, None) == 0
        assert lib.daos_noop(byref(ev), 1000) == 0
        events = (POINTER(_ffi.daos_event) * 4)()
        n = lib.daos_eq_poll(eq, 1, _ffi.DAOS_EQ_WAIT, 4, events)
        assert n == 1
        assert addressof(events[0].contents) == addressof(ev)
        assert ev.ev_error == 0
        # Nothing else in flight: returns 0 at once.
        assert lib.daos_eq_poll(eq, 1, _ffi.DAOS_EQ_WAIT, 4, events) == 0
        assert lib.daos_event_fini(byref(ev)) == 0
        assert lib.daos_event_fini(byref(ev)) == -_errno("ENOENT")
    finally:
        assert lib.daos_eq_destroy(eq) == 0
    assert lib.daos_eq_destroy(eq) == -_errno("EBADF")


def test_parent_children_and_completion_callback():
    """daos_event_next returns a full pointer; a CFUNCTYPE callback is called."""
    lib = _ffi.lib
    eq = _ffi.daos_handle_t()
    assert lib.daos_eq_create(byref(eq)) == 0
    try:
        parent, a, b = _ffi.daos_event(), _ffi.daos_event(), _ffi.daos_event()
        assert lib.daos_event_init(byref(parent), eq, None) == 0
        for child in (a, b):
            assert lib.daos_event_init(byref(child), eq, byref(parent)) == 0
        first = lib.daos_event_next(byref(parent), None)
        assert first and addressof(first.contents) == addressof(a)
        second = lib.daos_event_next(byref(parent), first)
        assert second and addressof(second.contents) == addressof(b)
        assert not lib.daos_event_next(byref(parent), second)

        seen = []

        @_ffi.daos_event_comp_cb_t
        def cb(arg, ev, rc):
            seen.append((arg, addressof(ev.contents), rc))
            return 0

        assert lib.daos_event_register_comp_cb(byref(a), cb, c_void_p(1234)) == 0
        assert lib.daos_noop(byref(a), 0) == 0
        assert lib.daos_noop(byref(b), 500) == 0
        events = (POINTER(_ffi.daos_event) * 4)()
        assert lib.daos_eq_poll(eq, 1, _ffi.DAOS_EQ_WAIT, 4, events) == 1
        assert addressof(events[0].contents) == addressof(parent)
        assert parent.ev_error == 0
        assert seen == [(1234, addressof(a), 0)]
        assert lib.daos_event_fini(byref(parent)) == 0
    finally:
        assert lib.daos_eq_destroy(eq) == 0


def _errno(name):
    import errno
    return getattr(errno, name)

"""Build step of the daos-rs wheel (pyproject.toml holds the metadata).

Building the package builds the library it loads: ``cargo build --release
-p daos_rs`` in the repository this directory belongs to (../Cargo.toml), then
``libdaos_rs.so`` goes into the package stripped of its debug information,
and the wheel is tagged for the platform (``py3-none-linux_x86_64``): the
Python code is version-independent, the library is not.
"""

import os
import shutil
import subprocess
import sys

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.dist import Distribution

try:
    from setuptools.command.bdist_wheel import bdist_wheel
except ImportError:  # setuptools < 70.1
    from wheel.bdist_wheel import bdist_wheel

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LIB = "libdaos_rs.so"


def fail(msg):
    # pip shows a SystemExit's message with the build's output.
    sys.exit("daos-rs: cannot build the wheel: " + msg)


def find_cargo():
    cargo = os.environ.get("CARGO") or shutil.which("cargo")
    if not cargo:
        home = os.path.join(os.environ.get("CARGO_HOME") or os.path.expanduser("~/.cargo"), "bin", "cargo")
        cargo = home if os.access(home, os.X_OK) else None
    if not cargo:
        fail("cargo was not found (PATH, $CARGO, ~/.cargo/bin). The package ships libdaos_rs.so, "
             "built from the Rust crate: install the Rust toolchain (https://rustup.rs, Rust >= 1.80) "
             "and gcc, then run pip again.")
    return cargo


def build_library():
    """Runs cargo; returns the path of the release libdaos_rs.so."""
    manifest = os.path.join(ROOT, "Cargo.toml")
    try:
        with open(manifest) as f:
            is_crate = 'name = "daos_rs"' in f.read()
    except OSError:
        is_crate = False
    if not is_crate:
        fail("the daos_rs crate is not at %s: the package is built from a checkout of the "
             "repository (pip install ./python, or pip wheel ./python), where python/ sits beside "
             "Cargo.toml; a source distribution alone does not carry the crate." % manifest)
    cmd = [find_cargo(), "build", "--release", "--lib", "-p", "daos_rs", "--manifest-path", manifest]
    print("daos-rs: " + " ".join(cmd), flush=True)
    try:
        subprocess.run(cmd, cwd=ROOT, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        fail("%s failed: %s" % (" ".join(cmd), e))
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
    so = os.path.join(target if os.path.isabs(target) else os.path.join(ROOT, target), "release", LIB)
    if not os.path.isfile(so):
        fail("cargo succeeded but %s is missing" % so)
    return so


def copy_stripped(src, dest):
    """Copies the library without its debug information (objcopy or strip,
    from binutils, which gcc needs anyway)."""
    if os.path.exists(dest):
        os.unlink(dest)
    objcopy, strip = shutil.which("objcopy"), shutil.which("strip")
    if objcopy:
        cmd = [objcopy, "--strip-debug", src, dest]
    elif strip:
        cmd = [strip, "--strip-debug", "-o", dest, src]
    else:
        fail("neither objcopy nor strip (binutils) was found to strip %s" % src)
    try:
        subprocess.run(cmd, check=True)
    except (OSError, subprocess.CalledProcessError) as e:
        fail("%s failed: %s" % (" ".join(cmd), e))
    os.chmod(dest, 0o755)


class BuildPy(build_py):
    """build_py, plus the library beside the package's modules."""

    def run(self):
        super().run()
        copy_stripped(build_library(), os.path.join(self.build_lib, "daos_rs", LIB))


class BdistWheel(bdist_wheel):
    """Tags the wheel py3-none-<platform>: any Python 3, this platform."""

    def finalize_options(self):
        super().finalize_options()
        self.root_is_pure = False

    def get_tag(self):
        _, _, plat = super().get_tag()
        return "py3", "none", plat


class BinaryDistribution(Distribution):
    """Carries a platform-specific file (the library)."""

    def has_ext_modules(self):
        return True


setup(cmdclass={"build_py": BuildPy, "bdist_wheel": BdistWheel}, distclass=BinaryDistribution)

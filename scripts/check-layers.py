#!/usr/bin/env python3
"""Checks that the modules of src/ import only layers below their own.

The layers are read from the "Layers" list of src/lib.rs (the one place they
are written; docs/ARCHITECTURE.md must repeat the same list, checked here
too). A module is a top-level entry of src/ (`foo.rs` or `foo/`); any path
`crate::bar` in its code (comments aside) is an import of `bar`. A module may
use its own submodules and the modules of strictly lower layers, nothing of
its own layer or above: so the layers have no import circle.

Usage: check-layers.py [REPO]; exits 1 and names each upward import.
"""
import pathlib
import re
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)
LIST = re.compile(r"^\s*(?://!\s*)?(\d+)\.\s+((?:`[a-z_]+`(?:,\s*)?)+)")


def layers_of(text, what):
    """The numbered list after a line '# Layers' (any heading level)."""
    out, inside = [], False
    for line in text.splitlines():
        bare = line.lstrip("/!").strip()
        if re.match(r"^#+\s+Layers\b", bare):
            inside = True
            continue
        if inside:
            m = LIST.match(line)
            if m:
                if int(m.group(1)) != len(out) + 1:
                    sys.exit(f"check-layers: {what}: layer {m.group(1)} is out of order")
                out.append(re.findall(r"`([a-z_]+)`", m.group(2)))
            elif out and bare.startswith("#"):
                break
    if not out:
        sys.exit(f"check-layers: {what} has no numbered '# Layers' list")
    return out


layers = layers_of((root / "src/lib.rs").read_text(), "src/lib.rs")
doc = layers_of((root / "docs/ARCHITECTURE.md").read_text(), "docs/ARCHITECTURE.md")
bad = []
if doc != layers:
    bad.append(f"docs/ARCHITECTURE.md lists the layers {doc}, src/lib.rs {layers}")
level = {m: i for i, ms in enumerate(layers) for m in ms}

src = root / "src"
modules = {p.stem if p.is_file() else p.name for p in src.iterdir() if (p.suffix == ".rs" or p.is_dir()) and p.stem not in ("lib", "main")}
for m in sorted(modules - set(level)):
    bad.append(f"src/{m}: module in no layer (add it to the list in src/lib.rs)")
for m in sorted(set(level) - modules):
    bad.append(f"layer list names `{m}`, which is no module of src/")

path = re.compile(r"\bcrate::([a-z_][a-z0-9_]*)")
group = re.compile(r"\bcrate::\{([^}]*)\}")
for f in sorted(src.rglob("*.rs")):
    rel = f.relative_to(src)
    mod = rel.parts[0].removesuffix(".rs")
    if mod == "lib" or mod not in level:
        continue
    for n, line in enumerate(f.read_text().splitlines(), 1):
        code = line.split("//", 1)[0]
        used = path.findall(code)
        for g in group.findall(code):
            used += re.findall(r"(?:^|,)\s*([a-z_][a-z0-9_]*)", g)
        for t in used:
            if t == mod or t not in level:
                continue
            if level[t] >= level[mod]:
                how = "of its own layer" if level[t] == level[mod] else "above it"
                bad.append(f"src/{rel}:{n}: `{mod}` (layer {level[mod] + 1}) uses `{t}` (layer {level[t] + 1}), {how}")
for b in bad:
    print(b)
if bad:
    print(f"check-layers: {len(bad)} problem(s); the layers are listed in src/lib.rs", file=sys.stderr)
    sys.exit(1)
print(f"check-layers: {len(layers)} layers, no import upward")

#!/usr/bin/env bash
# make check-layers: every #include "..." in src/ must name a header of the
# file's own folder or of a folder its layer may use (src/layers.mk), so no
# include points up a layer and no two rooms include each other. Prints
# each offending include as file:line with the reason; exits 1 if any.
set -u
cd "$(dirname "$0")/.."
exec python3 - "$@" <<'PY'
import os, re, sys

layers = {}
for line in open("src/layers.mk"):
    m = re.match(r"LAYER_(\S+)\s*:=\s*(.*)$", line)
    if m:
        layers[m.group(1)] = m.group(2).split()

# Which folders hold a header of each name.
where = {}
for d in layers:
    for f in os.listdir(os.path.join("src", d)):
        if f.endswith(".h"):
            where.setdefault(f, []).append(d)

bad = 0
for root, _, files in sorted(os.walk("src")):
    if any(f.endswith((".c", ".h")) for f in files) and os.path.relpath(root, "src") not in layers:
        print(f"{root}: a source folder that src/layers.mk does not list")
        bad += 1
for name, dirs in sorted(where.items()):
    if len(dirs) > 1:
        print(f"{name}: in more than one layer ({', '.join(dirs)}); includes would be ambiguous")
        bad += 1
for d, deps in sorted(layers.items()):
    for dep in deps:
        if dep not in layers:
            print(f"src/layers.mk: {d} uses {dep}, which is not a layer")
            bad += 1
    folder = os.path.join("src", d)
    for f in sorted(os.listdir(folder)):
        if not f.endswith((".c", ".h")):
            continue
        path = os.path.join(folder, f)
        for no, line in enumerate(open(path, encoding="utf-8", errors="replace"), 1):
            m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
            if not m:
                continue
            inc = m.group(1)
            homes = where.get(os.path.basename(inc), [])
            if not homes:
                print(f"{path}:{no}: includes \"{inc}\", which no layer has")
                bad += 1
            elif d not in homes and not set(homes) & set(deps):
                print(f"{path}:{no}: includes \"{inc}\" from src/{homes[0]}, which layer {d} may not use "
                      f"(it uses: {' '.join(deps) or 'nothing'})")
                bad += 1
if bad:
    print(f"check-layers: {bad} problem(s)")
    sys.exit(1)
print(f"check-layers: {len(layers)} layers, no include points up or sideways")
PY

#!/usr/bin/env python3
"""Checks that every #include "folder/header.h" under src/ respects the layers.

The rule lives in one place, the "Layers" table of docs/architecture.md: a folder may include its
own headers and those of the folders in its "may include (ours)" column ("everything": any of
them). A folder of src/ that the table does not list, an include of a folder that does not exist,
or an include the table does not allow is an error, printed as FILE:LINE: what. Exit status 1 on
any error.

usage: scripts/check-layers.py [--root DIR]   (DIR: the repository, default this script's parent)
"""
import argparse
import os
import re
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s+"([A-Za-z0-9_]+)/[^"]+"')


def read_table(doc_path):
    """{folder: set of folders it may include, or None for everything} from the Layers table."""
    allowed = {}
    in_table = False
    with open(doc_path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("| folder |"):
                header = [c.strip() for c in line.strip().strip("|").split("|")]
                try:
                    col = header.index("may include (ours)")
                except ValueError:
                    sys.exit("%s: the Layers table has no 'may include (ours)' column" % doc_path)
                in_table = True
                continue
            if not in_table:
                continue
            if not line.startswith("|"):
                break
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            m = re.fullmatch(r"`([a-z_]+)/`", cells[0])
            if not m:
                continue  # the |---| row
            may = cells[col]
            if may == "everything":
                allowed[m.group(1)] = None
            elif may in ("—", "-", ""):
                allowed[m.group(1)] = set()
            else:
                allowed[m.group(1)] = {p.strip() for p in may.split(",")}
    if not allowed:
        sys.exit("%s: no Layers table found" % doc_path)
    return allowed


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    args = ap.parse_args()
    src = os.path.join(args.root, "src")
    doc = os.path.join(args.root, "docs", "architecture.md")
    allowed = read_table(doc)
    folders = sorted(d for d in os.listdir(src) if os.path.isdir(os.path.join(src, d)))
    errors = []
    for folder in folders:
        if folder not in allowed:
            errors.append("src/%s/: not in the Layers table of docs/architecture.md" % folder)
            continue
        for dirpath, _, names in os.walk(os.path.join(src, folder)):
            for name in sorted(names):
                if not name.endswith((".c", ".h")) or ".pb-c." in name:
                    continue
                path = os.path.join(dirpath, name)
                rel = os.path.relpath(path, args.root)
                with open(path, encoding="utf-8", errors="replace") as f:
                    for n, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        target = m.group(1)
                        if target == folder:
                            continue
                        if target not in folders:
                            if not os.path.exists(os.path.join(dirpath, m.group(0).split('"')[1])):
                                errors.append("%s:%d: includes %s/, which is no folder of src/"
                                              % (rel, n, target))
                            continue
                        may = allowed[folder]
                        if may is not None and target not in may:
                            errors.append("%s:%d: %s/ may not include %s/ (docs/architecture.md, "
                                          "Layers)" % (rel, n, folder, target))
    for e in errors:
        print(e, file=sys.stderr)
    if errors:
        print("layers: %d include(s) break the layers" % len(errors), file=sys.stderr)
        return 1
    print("layers: every include of %d folders follows docs/architecture.md" % len(folders))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Compare two folders of incident bundles file by file (decompressed): are they identical?

Usage::

    python benchmarks/bundle_compare.py BEFORE_DIR AFTER_DIR [--case NAME ...]

Each folder holds bundles (``<case>/incident.yaml`` ...), e.g. the Nezha development cases
imported by ``benchmarks/nezha_import.py`` with the code before and after a change. For every
case present in either folder (or only the ``--case`` names), every file of the bundle is read,
``.gz`` files decompressed (so a changed compression level is not a difference, a changed byte
of content is), and compared with the same file of the other bundle. Prints one line per case
(identical, or each differing file with its first differing line) and exits 1 when any case
differs or is missing from one side.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path


def contents(bundle: Path) -> dict[str, bytes]:
    """Relative file name (``.gz`` suffix dropped) -> decompressed bytes, for every file."""
    files: dict[str, bytes] = {}
    for path in sorted(p for p in bundle.rglob("*") if p.is_file()):
        name = path.relative_to(bundle).as_posix()
        data = path.read_bytes()
        if name.endswith(".gz"):
            name, data = name.removesuffix(".gz"), gzip.decompress(data)
        files[name] = data
    return files


def first_difference(a: bytes, b: bytes) -> str:
    """``line N: <before> | <after>`` for the first line that differs (texts cut to 160)."""
    left, right = a.splitlines(), b.splitlines()
    for number, (x, y) in enumerate(zip(left, right, strict=False), start=1):
        if x != y:
            return f"line {number}: {x[:160]!r} | {y[:160]!r}"
    return f"{len(left)} vs {len(right)} lines"


def compare_bundles(before: Path, after: Path) -> list[str]:
    """One line per differing or one-sided file; empty when the bundles are identical."""
    a, b = contents(before), contents(after)
    one_sided = [f"{n}: only {'before' if n in a else 'after'}" for n in sorted(set(a) ^ set(b))]
    return one_sided + [
        f"{n}: {first_difference(a[n], b[n])}" for n in sorted(set(a) & set(b)) if a[n] != b[n]
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--case", action="append", default=[], help="only these case names")
    args = parser.parse_args(argv)
    for folder in (args.before, args.after):
        if not folder.is_dir():
            print(f"{folder}: not a directory of bundles", file=sys.stderr)
            return 2
    names = args.case or sorted(
        {p.parent.name for d in (args.before, args.after) for p in d.glob("*/incident.yaml")}
    )
    differing = 0
    for name in names:
        left, right = args.before / name, args.after / name
        if not (left / "incident.yaml").is_file() or not (right / "incident.yaml").is_file():
            print(f"- {name}: only in {'before' if left.is_dir() else 'after'}")
            differing += 1
            continue
        problems = compare_bundles(left, right)
        differing += bool(problems)
        print(f"- {name}: " + ("identical" if not problems else f"{len(problems)} file(s) differ"))
        for line in problems:
            print(f"    {line}")
    print(f"{len(names)} case(s), {differing} differ")
    return 1 if differing else 0


if __name__ == "__main__":
    raise SystemExit(main())

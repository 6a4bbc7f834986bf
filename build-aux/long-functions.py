#!/usr/bin/env python3
"""Reports C functions longer than a limit (150 lines by default).

    long-functions.py [--limit N] [--allow FILE] [--list] SRCDIR

A function is counted from the line with its name to its closing brace, in
the project's GNU layout (return type on its own line, name and opening and
closing braces in column 0). Functions named in the allow-list (lines
"path function", '#' comments) may be longer; every other long function
fails the check. An allow-list entry whose function is now short enough
(or gone) is reported so that the list can shrink.

Exit status: 0 when nothing new is too long, 1 otherwise.
"""
import argparse
import os
import re
import sys

NAME = re.compile(r'^(?:[A-Za-z_][\w \*]*\s+\**)?([A-Za-z_]\w*)\s*\(')


def functions(path):
    """Yields (name, first line, length) for each function in a C file."""
    with open(path, encoding='utf-8', errors='replace') as f:
        lines = f.read().split('\n')
    name, name_line = None, 0
    i = 0
    while i < len(lines):
        line = lines[i]
        m = NAME.match(line)
        if m and not line.startswith(('#', ' ', '\t', '}')) and not line.rstrip().endswith(';'):
            name, name_line = m.group(1), i
        if line.startswith('{') and name is not None:
            j = i + 1
            while j < len(lines) and not lines[j].startswith('}'):
                j += 1
            # Signatures span a few lines; a brace far below the last name
            # line is a table or a struct, not a function body.
            if i - name_line <= 20:
                yield name, name_line + 1, j - name_line + 1
            name = None
            i = j
        i += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--limit', type=int, default=150)
    ap.add_argument('--allow')
    ap.add_argument('--list', action='store_true', help='print every long function')
    ap.add_argument('srcdir')
    args = ap.parse_args()

    allowed = set()
    if args.allow:
        with open(args.allow, encoding='utf-8') as f:
            for line in f:
                line = line.split('#', 1)[0].strip()
                if line:
                    path, func = line.split()
                    allowed.add((path, func))

    root = os.path.dirname(os.path.abspath(args.srcdir.rstrip('/')))
    found, bad = set(), []
    for dirpath, _, files in sorted(os.walk(args.srcdir)):
        for fn in sorted(files):
            if not fn.endswith(('.c', '.cpp')):
                continue
            path = os.path.join(dirpath, fn)
            rel = os.path.relpath(path, root)
            for name, line, length in functions(path):
                if length <= args.limit:
                    continue
                found.add((rel, name))
                if args.list:
                    print(f'{rel}:{line}: {name} {length} lines')
                if (rel, name) not in allowed:
                    bad.append(f'{rel}:{line}: {name} is {length} lines (limit {args.limit})')

    for path, func in sorted(allowed - found):
        print(f'note: {path} {func} is no longer over {args.limit} lines: '
              'remove it from the allow-list')
    for b in bad:
        print(b)
    if bad:
        print(f'{len(bad)} function(s) over {args.limit} lines; split them '
              '(or, for a reason stated there, add them to the allow-list)')
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())

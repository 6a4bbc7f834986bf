#!/usr/bin/env python3
"""Translation checks of the application (suite 'ui').

  check_translations.py potfiles SOURCE_ROOT
      Every file with translatable strings (C: _(), N_(), C_(), ngettext();
      GtkBuilder: translatable="yes"; desktop, metainfo, GSettings schema)
      is listed in po/POTFILES.in, and everything listed exists.

  check_translations.py complete SOURCE_ROOT WORKDIR
      Extracts the strings with xgettext as the build does and merges every
      language of po/LINGUAS: no string may be untranslated or fuzzy, and
      msgfmt --check must accept the result (format strings match).
"""
import os
import re
import subprocess
import sys

C_MARKERS = re.compile(r'(?<![A-Za-z0-9_])(_|N_|C_|ngettext|g_dngettext)\s*\(\s*"')
UI_MARKER = re.compile(r'translatable="yes"')
SCANNED = [('src/app', '.c'), ('ui', '.ui'), ('data', '.in'), ('data', '.gschema.xml')]


def listed(root):
    names = []
    with open(os.path.join(root, 'po', 'POTFILES.in'), encoding='utf-8') as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith('#'):
                names.append(line)
    return names


def has_strings(path):
    with open(path, encoding='utf-8') as f:
        text = f.read()
    if path.endswith('.c'):
        return C_MARKERS.search(text) is not None
    if path.endswith('.ui'):
        return UI_MARKER.search(text) is not None
    # Desktop files, metainfo and schemas always carry user-visible text.
    return True


def check_potfiles(root):
    names = listed(root)
    problems = []
    for name in names:
        if not os.path.isfile(os.path.join(root, name)):
            problems.append(f'po/POTFILES.in lists {name}, which does not exist')
    for folder, suffix in SCANNED:
        base = os.path.join(root, folder)
        for entry in sorted(os.listdir(base)):
            rel = f'{folder}/{entry}'
            if entry.endswith(suffix) and has_strings(os.path.join(base, entry)) and rel not in names:
                problems.append(f'{rel} has translatable strings but is not in po/POTFILES.in')
    for p in problems:
        print(p)
    print(f'{len(names)} files listed, {len(problems)} problems')
    return 1 if problems else 0


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def check_complete(root, work):
    os.makedirs(work, exist_ok=True)
    pot = os.path.join(work, 'facet.pot')
    # The same keywords as meson's glib preset.
    run(['xgettext', '--from-code=UTF-8', '--add-comments', '--keyword=_', '--keyword=N_',
         '--keyword=C_:1c,2', '--keyword=NC_:1c,2', '--keyword=g_dcgettext:2',
         '--keyword=g_dngettext:2,3', '--keyword=g_dpgettext2:2c,3', '--flag=N_:1:pass-c-format',
         '--flag=C_:2:pass-c-format', '--flag=NC_:2:pass-c-format',
         '--flag=g_dngettext:2:pass-c-format', '--flag=g_strdup_printf:1:c-format',
         '--flag=g_string_printf:2:c-format', '--flag=g_string_append_printf:2:c-format',
         '--flag=g_error_new:3:c-format', '--flag=g_set_error:4:c-format',
         '--files-from=po/POTFILES.in', '-o', pot], cwd=root)
    with open(os.path.join(root, 'po', 'LINGUAS'), encoding='utf-8') as f:
        languages = [l.strip() for l in f if l.strip() and not l.startswith('#')]
    failed = 0
    for lang in languages:
        merged = os.path.join(work, lang + '.po')
        run(['msgmerge', '--quiet', '--no-fuzzy-matching', '-o', merged,
             os.path.join(root, 'po', lang + '.po'), pot])
        stats = subprocess.run(['msgfmt', '--check', '--statistics', '-o', os.devnull, merged],
                               capture_output=True, text=True)
        summary = (stats.stdout + stats.stderr).strip()
        print(f'{lang}: {summary}')
        if stats.returncode != 0 or 'untranslated' in summary or 'fuzzy' in summary:
            failed += 1
            untranslated = run(['msgattrib', '--untranslated', '--no-obsolete', merged]).stdout
            for m in re.findall(r'^msgid "(.*)"$', untranslated, re.M)[1:15]:
                print(f'  {lang}: untranslated: {m}')
    return 1 if failed else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == 'potfiles':
        return check_potfiles(sys.argv[2])
    if len(sys.argv) >= 4 and sys.argv[1] == 'complete':
        return check_complete(sys.argv[2], sys.argv[3])
    print(__doc__)
    return 2


if __name__ == '__main__':
    sys.exit(main())

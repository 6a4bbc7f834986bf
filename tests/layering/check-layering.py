#!/usr/bin/env python3
"""The module layering is enforced: a wrong include does not compile.

    check-layering.py SRCDIR VIEWDIR MODULE=BELOW,BELOW ... -- CC [ARGS...]

Each MODULE=... argument is one entry of src/meson.build's facet_layers
(the modules MODULE may include). Two checks, as TAP:

1. Every #include "X/..." in src/MODULE names MODULE itself or a module
   below it; no source reaches another module by a path around the
   include folders ("../", "src/..."), no module includes another's
   *-private.h, and outside the engine nothing includes the engine's
   backend folders (engine/cpu/, engine/vulkan/).
2. The build's include views (VIEWDIR/MODULE, made by
   build-aux/include-view.sh) really stop a wrong include: a one-line file
   including "N/facet-N.h" is compiled with MODULE's include folder, for N
   = MODULE (it must compile) and for every N not below MODULE (it must
   fail with "No such file" for that header: a store source including the
   engine, the engine including the pipeline, ...).
"""
import concurrent.futures
import os
import re
import subprocess
import sys
import tempfile

INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)


def main():
    argv = sys.argv[1:]
    sep = argv.index('--')
    srcdir, viewdir = argv[0], argv[1]
    layers = {}
    for spec in argv[2:sep]:
        mod, _, below = spec.partition('=')
        layers[mod] = [b for b in below.split(',') if b]
    cc = argv[sep + 1:]
    cflags = subprocess.run(['pkg-config', '--cflags', 'glib-2.0', 'gio-2.0',
                             'json-glib-1.0'], check=True, capture_output=True,
                            text=True).stdout.split()

    n = 0
    failures = 0

    def result(ok, text):
        nonlocal n, failures
        n += 1
        print(('ok %d - %s' if ok else 'not ok %d - %s') % (n, text))
        if not ok:
            failures += 1

    # 1. The include lines.
    for mod, below in layers.items():
        allowed = set(below) | {mod}
        bad = []
        for dirpath, _, files in os.walk(os.path.join(srcdir, mod)):
            for fn in files:
                if not fn.endswith(('.c', '.h', '.cpp')):
                    continue
                path = os.path.join(dirpath, fn)
                with open(path, encoding='utf-8', errors='replace') as f:
                    text = f.read()
                rel = os.path.relpath(path, srcdir)
                for inc in INCLUDE.findall(text):
                    top = inc.split('/', 1)[0]
                    if '..' in inc.split('/') or top == 'src':
                        bad.append(f'{rel}: "{inc}" (a path around the layers)')
                    elif '/' in inc and top in layers and top not in allowed:
                        bad.append(f'{rel}: "{inc}" ({mod} may include {sorted(allowed)})')
                    elif top != mod and '/' in inc and inc.endswith('-private.h'):
                        bad.append(f'{rel}: "{inc}" (another module\'s private header)')
                    elif mod != 'engine' and inc.startswith(('engine/cpu/', 'engine/vulkan/')):
                        bad.append(f'{rel}: "{inc}" (a backend\'s internals)')
        for b in bad:
            print('# ' + b)
        result(not bad, f'includes of src/{mod} stay in its layers')

    # 1b. The programs on top (facet-cli, the app) use libfacet's public
    # headers: no backend's internals, no module's private header.
    for prog in ('cli', 'app'):
        bad = []
        for dirpath, _, files in os.walk(os.path.join(srcdir, prog)):
            for fn in files:
                if not fn.endswith(('.c', '.h')):
                    continue
                path = os.path.join(dirpath, fn)
                with open(path, encoding='utf-8', errors='replace') as f:
                    text = f.read()
                rel = os.path.relpath(path, srcdir)
                for inc in INCLUDE.findall(text):
                    top = inc.split('/', 1)[0]
                    if inc.startswith(('engine/cpu/', 'engine/vulkan/')):
                        bad.append(f'{rel}: "{inc}" (a backend\'s internals)')
                    elif top in layers and inc.endswith('-private.h'):
                        bad.append(f'{rel}: "{inc}" (a module\'s private header)')
        for b in bad:
            print('# ' + b)
        result(not bad, f'src/{prog} uses only the modules\' public headers')

    # 2. The include views: each module's own header compiles with its
    # folder (so the view is complete), every header of a module that is
    # not below it is refused. (Headers of the modules below are found
    # through the same links as its own; the include lines above check
    # that nothing else is used.)
    with tempfile.TemporaryDirectory() as tmp:
        jobs = []
        for mod, below in layers.items():
            allowed = set(below) | {mod}
            for other in layers:
                if other != mod and other in allowed:
                    continue
                header = f'{other}/facet-{other}.h'
                probe = os.path.join(tmp, f'{mod}-{other}.c')
                with open(probe, 'w') as f:
                    f.write(f'#include "{header}"\n')
                cmd = cc + cflags + ['-I' + os.path.join(viewdir, mod), '-fsyntax-only', probe]
                jobs.append((mod, other, header, cmd))
        with concurrent.futures.ThreadPoolExecutor(max_workers=2) as pool:
            runs = list(pool.map(lambda j: subprocess.run(j[3], capture_output=True, text=True),
                                 jobs))
        for (mod, other, header, cmd), p in zip(jobs, runs):
            if other == mod:
                if p.returncode != 0:
                    print('# ' + ' '.join(cmd))
                    print('# ' + p.stderr.replace('\n', '\n# '))
                result(p.returncode == 0, f'{mod} compiles with {header}')
            else:
                refused = p.returncode != 0 and re.search(
                    re.escape(header) + r'.*No such file', p.stderr) is not None
                if not refused:
                    print('# ' + ' '.join(cmd))
                    print('# ' + p.stderr.replace('\n', '\n# '))
                result(refused, f'{mod} cannot include {header}')

    print(f'1..{n}')
    return 1 if failures else 0


if __name__ == '__main__':
    sys.exit(main())

#!/usr/bin/python3
"""The Flatpak manifest's libzip and dlib modules, built from their pinned
sources into a scratch prefix (suite 'slow'), so that the manifest is not
written blind.

Usage: build_flatpak_modules.py MANIFEST

Only Debian's archive is reachable from these machines, so the sources come
through apt (`apt-get source --download-only`, with a private deb-src list
in a temporary folder: the system's apt configuration is not touched). Each
downloaded file must have the sha256 the manifest pins (for libzip that
shows Debian's orig tarball is the upstream release). Then the module is
configured with the manifest's own config-opts (cmake, as flatpak-builder's
cmake-ninja does), built and installed into the scratch prefix, and
pkg-config must find it there. OpenBLAS (upstream tarball, not in Debian as
such), glslc and the 200 MB landmark archive are not built here.
"""

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse

DEBIAN = {"libzip": "libzip", "dlib": "dlib"}


def run(args, **kw):
    print("+", " ".join(args), flush=True)
    p = subprocess.run(args, capture_output=True, text=True, **kw)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: {' '.join(args)} ({p.returncode}):\n{p.stdout[-3000:]}{p.stderr[-3000:]}")
    return p.stdout


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def main():
    manifest = sys.argv[1]
    for tool in ("apt-get", "cmake", "ninja", "pkg-config"):
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is missing")
            return 77
    with open(manifest) as f:
        modules = {m["name"]: m for m in json.load(f)["modules"]}
    # A TERM from meson's timeout still removes the scratch folder (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    top = tempfile.mkdtemp(prefix="facet-flatpak-modules-")
    try:
        apt = os.path.join(top, "apt")
        os.makedirs(os.path.join(apt, "lists", "partial"))
        with open(os.path.join(apt, "sources.list"), "w") as f:
            f.write("deb-src http://deb.debian.org/debian bookworm main\n")
        opts = ["-o", f"Dir::Etc::SourceList={apt}/sources.list", "-o", "Dir::Etc::SourceParts=/dev/null",
                "-o", f"Dir::State::Lists={apt}/lists", "-o", f"Dir::Cache={apt}/cache", "-q"]
        run(["apt-get", *opts, "update"])
        prefix = os.path.join(top, "prefix")
        for name, package in DEBIAN.items():
            module = modules[name]
            (source,) = module["sources"]
            want = source["sha256"]
            where = os.path.join(top, "src-" + name)
            os.makedirs(where)
            run(["apt-get", *opts, "source", "--download-only", package], cwd=where)
            found = [f for f in os.listdir(where) if ".orig" in f and sha256(os.path.join(where, f)) == want]
            if not found:
                raise SystemExit(f"FAIL: no file of Debian's {package} source has the sha256 the manifest "
                                 f"pins for {urllib.parse.unquote(source['url'])} ({want})")
            print(f"ok: {found[0]} has the manifest's sha256 for {os.path.basename(source['url'])}")
            tree = os.path.join(top, name)
            os.makedirs(tree)
            run(["tar", "-xf", os.path.join(where, found[0]), "--strip-components=1", "-C", tree])
            assert module["buildsystem"] == "cmake-ninja", module["buildsystem"]
            src = os.path.join(tree, module.get("subdir", ""))
            build = os.path.join(top, "build-" + name)
            run(["cmake", "-S", src, "-B", build, "-G", "Ninja", f"-DCMAKE_INSTALL_PREFIX={prefix}",
                 f"-DCMAKE_PREFIX_PATH={prefix}", *module["config-opts"]])
            run(["ninja", "-C", build, "install"])
        env = dict(os.environ, PKG_CONFIG_PATH=":".join(
            os.path.join(prefix, d, "pkgconfig") for d in ("lib", "lib64", "lib/x86_64-linux-gnu")))
        versions = run(["pkg-config", "--modversion", "libzip", "dlib-1"], env=env).split()
        libdirs = run(["pkg-config", "--variable=libdir", "libzip", "dlib-1"], env=env).split()
        if versions != ["1.7.3", "19.24.0"] or not all(d.startswith(prefix) for d in libdirs):
            raise SystemExit(f"FAIL: pkg-config in the scratch prefix: {versions} {libdirs}")
        print(f"ok: libzip {versions[0]} and dlib {versions[1]} built with the manifest's options "
              f"and found by pkg-config in the scratch prefix")
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

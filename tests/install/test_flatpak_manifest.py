#!/usr/bin/python3
"""The Flatpak manifest: parsed by flatpak-builder itself, then checked.

Usage: test_flatpak_manifest.py MANIFEST SOURCEDIR

`flatpak-builder --show-manifest` must accept it (it reads the JSON and
its own schema). Then: the GNOME runtime, finish-args no wider than the app
needs (no home or host file system: files come through the portal), every
downloaded archive pinned by sha256, Facet last and built with meson from
this tree, with options that exist in meson_options.txt, and the landmark
model where the facet module is told to look for it; the CNN face
detector's weights (module face-cnn) are the npm tarball that
build-aux/install-deps.sh installs (same version and sha256) and land
where the installed app looks for them: beside the landmark model, under
the manifest name src/face/face-cnn.h gives (src/face/face-detector.c).
"""

import json
import os
import re
import shutil
import subprocess
import sys

manifest, source = sys.argv[1], sys.argv[2]
if shutil.which("flatpak-builder") is None:
    print("SKIP: flatpak-builder is not installed (build-aux/install-deps.sh installs it)")
    sys.exit(77)

p = subprocess.run(["flatpak-builder", "--show-manifest", manifest], capture_output=True, text=True)
assert p.returncode == 0, f"flatpak-builder --show-manifest failed:\n{p.stderr}"
m = json.loads(p.stdout)

assert m["id"] == "io.github.facet.Facet", m["id"]
assert m["runtime"] == "org.gnome.Platform" and m["sdk"] == "org.gnome.Sdk", (m["runtime"], m["sdk"])
assert m["command"] == "facet"
allowed = {"--share=ipc", "--socket=wayland", "--socket=fallback-x11", "--device=dri"}
args = set(m["finish-args"])
assert args == allowed, f"finish-args should be exactly {sorted(allowed)}, are {sorted(args)}"

modules = m["modules"]
for module in modules:
    for src in module.get("sources", []):
        if src["type"] in ("archive", "file"):
            assert re.fullmatch(r"[0-9a-f]{64}", src.get("sha256", "")), f"{module['name']}: {src}"
            assert src["url"].startswith("https://"), f"{module['name']}: {src['url']}"
names = [module["name"] for module in modules]
for needed in ("openblas", "libzip", "dlib", "dlib-landmarks", "face-cnn", "glslc"):
    assert needed in names, f"no module {needed}: {names}"
assert "*" in next(mod for mod in modules if mod["name"] == "glslc")["cleanup"], "glslc stays in the app"

facet = modules[-1]
assert facet["name"] == "facet" and facet["buildsystem"] == "meson", facet
assert facet["sources"] == [{"type": "dir", "path": "..", "skip": ["build", "build-asan", ".git"]}], \
    facet["sources"]
with open(os.path.join(source, "meson_options.txt")) as f:
    options = set(re.findall(r"option\('([^']+)'", f.read()))
opts = {}
for opt in facet["config-opts"]:
    if opt.startswith("-D"):
        key, value = opt[2:].split("=", 1)
        assert key in options, f"{opt}: no such option in meson_options.txt"
        opts[key] = value
assert opts.get("development") == "false", "the Flatpak is the release id, not .Devel"
landmarks = next(mod for mod in modules if mod["name"] == "dlib-landmarks")
assert any(opts["dlib_landmarks"] in cmd for cmd in landmarks["build-commands"]), \
    "dlib_landmarks does not name the file the dlib-landmarks module installs"

# The CNN face detector: the tarball install-deps.sh checks, its two files
# in the folder of the landmark model the facet module is configured with.
with open(os.path.join(source, "build-aux", "install-deps.sh")) as f:
    deps = f.read()
version = re.search(r"^FACE_API_VERSION=(\S+)", deps, re.M).group(1)
tgz_sha = re.search(r"^FACE_API_TGZ_SHA256=(\S+)", deps, re.M).group(1)
with open(os.path.join(source, "src", "face", "face-cnn.h")) as f:
    cnn_manifest = re.search(r'#define FACET_FACE_CNN_MANIFEST "([^"]+)"', f.read()).group(1)
cnn = next(mod for mod in modules if mod["name"] == "face-cnn")
assert names.index("face-cnn") < names.index("facet"), names
assert cnn["sources"] == [{"type": "archive", "sha256": tgz_sha,
                           "url": f"https://registry.npmjs.org/@vladmandic/face-api/-/face-api-{version}.tgz"}], \
    f"face-cnn should pin @vladmandic/face-api {version} as install-deps.sh does: {cnn['sources']}"
weights_dir = os.path.dirname(opts["dlib_landmarks"])
commands = " ".join(cnn["build-commands"])
for f in (cnn_manifest, cnn_manifest.replace("-weights_manifest.json", ".bin")):
    assert f"model/{f}" in commands, f"face-cnn does not install {f}: {commands}"
assert f"-t {weights_dir} " in commands, \
    f"face-cnn does not install into {weights_dir}, where the app looks (beside dlib_landmarks): {commands}"
print(f"ok: {manifest} parses; {len(modules)} modules, all archives pinned by sha256; "
      f"finish-args {sorted(args)}")

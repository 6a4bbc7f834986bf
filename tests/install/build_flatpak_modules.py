#!/usr/bin/python3
"""The Flatpak manifest's modules, built from their pinned sources into a
scratch prefix with the manifest's own options and commands (suite 'slow'),
so that the manifest is not written blind.

Usage: build_flatpak_modules.py MANIFEST MODULE...

MODULE is a module name of the manifest: libzip, dlib, dlib-landmarks,
glslc, openblas or face-cnn.

Only Debian's archive and the npm registry are reachable from these
machines. Debian's sources come through apt (`apt-get source
--download-only`, with a private deb-src list in a temporary folder: the
system's apt configuration is not touched).

- face-cnn: the archive the manifest pins is the npm registry's tarball of
  @vladmandic/face-api, fetched from its URL as flatpak-builder would; its
  sha256 must be the manifest's and the one build-aux/install-deps.sh
  checks, and the two weight files the module's commands install must be
  byte for byte what install-deps.sh installs (its pinned sha256 of the
  .bin, and the files in /usr/share/dlib where it has run).

- libzip, dlib, dlib-landmarks, glslc: every archive the module pins must be
  one of the files Debian's source packages download, byte for byte (same
  sha256; for libzip this shows Debian's orig tarball is the upstream
  release). Each archive is unpacked where the manifest puts it ("dest").
- openblas: the manifest pins the upstream release from GitHub, which is not
  reachable here. Debian's orig tarball is a "+ds" repack of the same
  release (a few files removed), so it cannot have the pinned sha256; the
  module's build-commands are run on it as written, which checks the
  commands and options (DYNAMIC_ARCH, NO_LAPACK), not the checksum.

cmake-ninja modules are configured as flatpak-builder does (cmake -G Ninja
with the config-opts), built and installed; simple modules run their
build-commands with /app replaced by the scratch prefix. Then the result is
checked: pkg-config finds libzip and dlib in the prefix, the landmark model
is Debian's byte for byte, glslc compiles a compute shader, libopenblas
exports CBLAS, needs no libgfortran and computes one sgemm right.
"""

import hashlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.parse
import urllib.request

# The Debian source package each module's archives come from.
DEBIAN = {
    "libzip": ["libzip"],
    "dlib": ["dlib"],
    "dlib-landmarks": ["dlib"],
    "glslc": ["shaderc", "glslang", "spirv-tools", "spirv-headers"],
    "openblas": ["openblas"],
}
# Modules whose pinned archives are not Debian's: the file used instead.
REPACKED = {"openblas": "openblas_0.3.21+ds.orig.tar.xz"}
# Modules whose pinned archives come from the npm registry, as pinned.
NPM = {"face-cnn"}
SOURCE = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FACE_CNN_FILES = ("tiny_face_detector_model-weights_manifest.json", "tiny_face_detector_model.bin")


def install_deps_pins():
    """FACE_API_VERSION and the sha256 values build-aux/install-deps.sh checks."""
    with open(os.path.join(SOURCE, "build-aux", "install-deps.sh")) as f:
        text = f.read()
    pins = dict(re.findall(r"^(FACE_API_VERSION|FACE_API_TGZ_SHA256|FACE_CNN_BIN_SHA256|FACE_CNN_DIR)="
                           r"(\S+)", text, re.M))
    for key in ("FACE_API_VERSION", "FACE_API_TGZ_SHA256", "FACE_CNN_BIN_SHA256"):
        if key not in pins:
            raise SystemExit(f"FAIL: build-aux/install-deps.sh no longer sets {key}")
    return pins


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


class Unreachable(Exception):
    """A source the module needs is not on the reachable mirror."""


class Apt:
    """apt-get with a private deb-src list under TOP."""

    def __init__(self, top):
        apt = os.path.join(top, "apt")
        os.makedirs(os.path.join(apt, "lists", "partial"))
        with open(os.path.join(apt, "sources.list"), "w") as f:
            f.write("deb-src http://deb.debian.org/debian bookworm main\n")
        self.opts = ["-o", f"Dir::Etc::SourceList={apt}/sources.list", "-o", "Dir::Etc::SourceParts=/dev/null",
                     "-o", f"Dir::State::Lists={apt}/lists", "-o", f"Dir::Cache={apt}/cache", "-q"]
        self.top = top
        self.fetched = {}
        run(["apt-get", *self.opts, "update"])

    def files(self, package):
        """The files of PACKAGE's source, downloaded once: name -> path."""
        if package not in self.fetched:
            where = os.path.join(self.top, "src-" + package)
            os.makedirs(where)
            p = subprocess.run(["apt-get", *self.opts, "source", "--download-only", package], cwd=where,
                               capture_output=True, text=True)
            if p.returncode != 0:
                raise Unreachable(f"Debian's {package} source could not be downloaded here:\n"
                                  + "\n".join(l for l in p.stderr.splitlines() if l.startswith("E:")))
            self.fetched[package] = {f: os.path.join(where, f) for f in os.listdir(where)}
        return self.fetched[package]


def unpack_sources(apt, name, module, tree):
    """Unpacks every archive of MODULE into TREE (at its "dest")."""
    candidates = {}
    for package in DEBIAN[name]:
        try:
            candidates.update(apt.files(package))
        except Unreachable:
            # Check what can be checked first, then say what could not be.
            unreachable = sys.exc_info()[1]
            for source in module["sources"]:
                got = [f for f, p in candidates.items() if ".orig" in f and sha256(p) == source["sha256"]]
                if got:
                    print(f"ok: {got[0]} has the manifest's sha256")
            raise unreachable
    for source in module["sources"]:
        assert source["type"] == "archive", source["type"]
        if name in REPACKED:
            path = candidates[REPACKED[name]]
            print(f"note: {os.path.basename(path)} stands in for {urllib.parse.unquote(source['url'])} "
                  f"(Debian's repack; the pinned sha256 is upstream's)")
        else:
            want = source["sha256"]
            found = [p for f, p in sorted(candidates.items()) if ".orig" in f and sha256(p) == want]
            if not found:
                raise SystemExit(f"FAIL: no file of Debian's {' '.join(DEBIAN[name])} source has the sha256 "
                                 f"the manifest pins for {urllib.parse.unquote(source['url'])} ({want})")
            path = found[0]
            print(f"ok: {os.path.basename(path)} has the manifest's sha256 for "
                  f"{urllib.parse.unquote(os.path.basename(source['url']))}")
        dest = os.path.join(tree, source.get("dest", ""))
        os.makedirs(dest, exist_ok=True)
        run(["tar", "-xf", path, "--strip-components=1", "-C", dest])


def fetch_npm_sources(name, module, top, tree):
    """Downloads every archive of MODULE from its URL (the npm registry),
    checks the sha256 against the manifest and install-deps.sh, unpacks it
    as flatpak-builder does (first path component stripped)."""
    pins = install_deps_pins()
    for source in module["sources"]:
        assert source["type"] == "archive", source["type"]
        url = source["url"]
        if not url.startswith("https://registry.npmjs.org/"):
            raise SystemExit(f"FAIL: {name}: {url} is not on the npm registry")
        if not url.endswith(f"/face-api-{pins['FACE_API_VERSION']}.tgz"):
            raise SystemExit(f"FAIL: {name}: {url} is not face-api {pins['FACE_API_VERSION']}, "
                             "the version build-aux/install-deps.sh installs")
        path = os.path.join(top, os.path.basename(urllib.parse.urlparse(url).path))
        print(f"+ download {url}", flush=True)
        try:
            with urllib.request.urlopen(url, timeout=120) as r, open(path, "wb") as f:
                shutil.copyfileobj(r, f)
        except OSError as e:
            raise Unreachable(f"{url} could not be downloaded here: {e}")
        got = sha256(path)
        if got != source["sha256"]:
            raise SystemExit(f"FAIL: {url} has sha256 {got}, the manifest pins {source['sha256']}")
        if got != pins["FACE_API_TGZ_SHA256"]:
            raise SystemExit(f"FAIL: the manifest's {url} is not the tarball install-deps.sh checks "
                             f"({pins['FACE_API_TGZ_SHA256']})")
        print(f"ok: {os.path.basename(path)} from the npm registry has the manifest's sha256, "
              f"the one build-aux/install-deps.sh checks")
        dest = os.path.join(tree, source.get("dest", ""))
        os.makedirs(dest, exist_ok=True)
        run(["tar", "-xf", path, "--strip-components=1", "-C", dest])


def build_module(apt, name, module, top, prefix, jobs):
    tree = os.path.join(top, name)
    os.makedirs(tree)
    if name in NPM:
        fetch_npm_sources(name, module, top, tree)
    else:
        unpack_sources(apt(), name, module, tree)
    if module["buildsystem"] == "cmake-ninja":
        src = os.path.join(tree, module.get("subdir", ""))
        build = os.path.join(top, "build-" + name)
        run(["cmake", "-S", src, "-B", build, "-G", "Ninja", f"-DCMAKE_INSTALL_PREFIX={prefix}",
             f"-DCMAKE_PREFIX_PATH={prefix}", *module.get("config-opts", [])])
        run(["ninja", "-C", build, "-j", str(jobs), "install"])
    else:
        assert module["buildsystem"] == "simple", module["buildsystem"]
        env = dict(os.environ, FLATPAK_BUILDER_N_JOBS=str(jobs), FLATPAK_DEST=prefix)
        for command in module["build-commands"]:
            run(["sh", "-c", command.replace("/app", prefix)], cwd=tree, env=env)


def check_sgemm(path):
    """Loads the built library, reads its configuration and checks one
    cblas_sgemm against a product computed here in double precision."""
    import ctypes
    import random
    lib = ctypes.CDLL(path)
    lib.openblas_get_config.restype = ctypes.c_char_p
    config = lib.openblas_get_config().decode()
    lib.openblas_get_corename.restype = ctypes.c_char_p
    core = lib.openblas_get_corename().decode()
    print(f"note: built library: {config}; kernels chosen on this processor: {core}")
    if "DYNAMIC_ARCH" not in config:
        raise SystemExit(f"FAIL: {path} was not built with DYNAMIC_ARCH ({config})")
    m, n, k = 37, 29, 53
    rng = random.Random(7)
    a = [rng.uniform(-1, 1) for _ in range(m * k)]
    b = [rng.uniform(-1, 1) for _ in range(k * n)]
    fa, fb, fc = (ctypes.c_float * (m * k))(*a), (ctypes.c_float * (k * n))(*b), (ctypes.c_float * (m * n))()
    # cblas_sgemm (RowMajor 101, NoTrans 111, NoTrans 111, ...)
    lib.cblas_sgemm(101, 111, 111, m, n, k, ctypes.c_float(1.0), fa, k, fb, n, ctypes.c_float(0.0), fc, n)
    worst = 0.0
    for i in range(m):
        for j in range(n):
            want = sum(fa[i * k + p] * fb[p * n + j] for p in range(k))
            worst = max(worst, abs(fc[i * n + j] - want))
    if worst > 1e-4:
        raise SystemExit(f"FAIL: cblas_sgemm of the built library is off by {worst}")
    print(f"ok: cblas_sgemm ({m}x{k} by {k}x{n}) matches a double-precision product within {worst:.1e}")


def check_result(name, prefix, top):
    if name in ("libzip", "dlib"):
        package = {"libzip": "libzip", "dlib": "dlib-1"}[name]
        want = {"libzip": "1.7.3", "dlib": "19.24.0"}[name]
        env = dict(os.environ, PKG_CONFIG_PATH=":".join(
            os.path.join(prefix, d, "pkgconfig") for d in ("lib", "lib64", "lib/x86_64-linux-gnu")))
        version = run(["pkg-config", "--modversion", package], env=env).strip()
        libdir = run(["pkg-config", "--variable=libdir", package], env=env).strip()
        if version != want or not libdir.startswith(prefix):
            raise SystemExit(f"FAIL: pkg-config {package} in the scratch prefix: {version} {libdir}")
        print(f"ok: {name} {version} built with the manifest's options and found by pkg-config in the prefix")
    elif name == "dlib-landmarks":
        got = os.path.join(prefix, "share", "dlib", "shape_predictor_68_face_landmarks.dat")
        debian = "/usr/share/dlib/shape_predictor_68_face_landmarks.dat"
        if not os.path.isfile(got):
            raise SystemExit(f"FAIL: the dlib-landmarks module installed no {got}")
        if os.path.isfile(debian) and sha256(got) != sha256(debian):
            raise SystemExit(f"FAIL: {got} differs from Debian's {debian}")
        print(f"ok: the landmark model installed by the module's commands ({os.path.getsize(got)} bytes)"
              + (" is Debian's byte for byte" if os.path.isfile(debian) else ""))
    elif name == "face-cnn":
        pins = install_deps_pins()
        # Where install-deps.sh put them: $FACET_FACE_CNN_DIR, else its default.
        debian = os.environ.get("FACET_FACE_CNN_DIR") or re.sub(
            r"^\$\{FACET_FACE_CNN_DIR:-(.*)\}$", r"\1", pins.get("FACE_CNN_DIR", "/usr/share/dlib"))
        installed = []
        for f in FACE_CNN_FILES:
            got = os.path.join(prefix, "share", "dlib", f)
            if not os.path.isfile(got):
                raise SystemExit(f"FAIL: the face-cnn module installed no {got}")
            if f.endswith(".bin") and sha256(got) != pins["FACE_CNN_BIN_SHA256"]:
                raise SystemExit(f"FAIL: {got} is not the .bin install-deps.sh pins "
                                 f"({pins['FACE_CNN_BIN_SHA256']})")
            theirs = os.path.join(debian, f)
            if os.path.isfile(theirs):
                if sha256(got) != sha256(theirs):
                    raise SystemExit(f"FAIL: {got} differs from {theirs}, which install-deps.sh installed")
                installed.append(theirs)
        print(f"ok: the face-cnn module installs {', '.join(FACE_CNN_FILES)} in share/dlib"
              + (f", byte for byte the files install-deps.sh installed ({', '.join(installed)})"
                 if len(installed) == len(FACE_CNN_FILES) else
                 " (install-deps.sh has not installed them here: compared with its pinned sha256 only)"))
    elif name == "glslc":
        shader = os.path.join(top, "t.comp")
        with open(shader, "w") as f:
            f.write("#version 450\nlayout(local_size_x = 64) in;\n"
                    "layout(std430, binding = 0) buffer B { float x[]; };\n"
                    "void main () { x[gl_GlobalInvocationID.x] *= 2.0; }\n")
        out = os.path.join(top, "t.spv")
        run([os.path.join(prefix, "bin", "glslc"), "--target-env=vulkan1.1", "-O", shader, "-o", out])
        with open(out, "rb") as f:
            magic = f.read(4)
        if magic != b"\x03\x02\x23\x07":
            raise SystemExit(f"FAIL: glslc wrote no SPIR-V ({magic!r})")
        print("ok: the glslc built with the manifest's options compiles a compute shader to SPIR-V")
    elif name == "openblas":
        libs = [os.path.join(d, f) for d, _, fs in os.walk(prefix) for f in fs if f == "libopenblas.so"]
        if not libs:
            raise SystemExit("FAIL: the openblas module installed no libopenblas.so")
        symbols = run(["nm", "-D", "--defined-only", libs[0]])
        for symbol in ("cblas_sgemm", "sgemm_", "openblas_get_config"):
            if f" {symbol}\n" not in symbols:
                raise SystemExit(f"FAIL: {libs[0]} does not export {symbol}")
        needed = run(["objdump", "-p", libs[0]])
        if "libgfortran" in needed:
            raise SystemExit(f"FAIL: {libs[0]} needs libgfortran, which the GNOME runtime does not have")
        check_sgemm(libs[0])
        print("ok: libopenblas built with the manifest's commands exports CBLAS, needs no Fortran runtime "
              "and multiplies correctly")
    else:
        raise SystemExit(f"FAIL: no check for module {name}")


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    manifest, names = sys.argv[1], sys.argv[2:]
    # The npm module needs only tar; the others build from Debian's sources.
    tools = ("tar",) if all(n in NPM for n in names) else ("apt-get", "cmake", "ninja", "pkg-config",
                                                          "nm", "make", "tar")
    for tool in tools:
        if shutil.which(tool) is None:
            print(f"SKIP: {tool} is missing")
            return 77
    with open(manifest) as f:
        modules = {m["name"]: m for m in json.load(f)["modules"]}
    for name in names:
        if name not in modules or (name not in DEBIAN and name not in NPM):
            raise SystemExit(f"FAIL: {name} is not a module this test can build "
                             f"({', '.join(list(DEBIAN) + sorted(NPM))})")
    jobs = os.cpu_count() or 2
    # A TERM from meson's timeout still removes the scratch folder (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    top = tempfile.mkdtemp(prefix="facet-flatpak-modules-")
    try:
        apts = []

        def apt():
            """apt's lists, made when a module first builds from Debian's sources."""
            if not apts:
                apts.append(Apt(top))
            return apts[0]

        prefix = os.path.join(top, "prefix")
        for name in names:
            try:
                build_module(apt, name, modules[name], top, prefix, jobs)
            except Unreachable as e:
                # Archives checked before this one were printed as "ok" above.
                print(f"SKIP: module {name}: {e}")
                return 77
            check_result(name, prefix, top)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

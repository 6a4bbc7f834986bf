#!/usr/bin/python3
"""Facet installed into a staging folder, run from there.

Usage (inside tests/ui/run-xvfb.sh, which gives it a display and a session
bus): test_installed.py BUILDDIR SOURCEDIR

`meson install --destdir STAGE` installs the build; the schema is compiled
the way a distribution's trigger or flatpak-builder does it. Then, with an
environment holding nothing from the build or source folder (no FACET_*,
no GSETTINGS_SCHEMA_DIR, PATH=/usr/bin:/bin, HOME and the XDG folders in a
temporary folder):
  - every file an installed app needs is there; desktop-file-validate and
    appstreamcli validate accept the installed desktop file and metainfo;
  - the installed facet-cli prints its help, and predicts the AUs of a
    photograph with the installed demo model;
  - the installed facet, started as `facet --demo`, makes the demo project
    in the user's cache folder with the installed model, shows its window,
    starts analysing, and quits through its "quit" action on the bus.
"""

import glob
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

APP_ID_PREFIX = "io.github.facet.Facet"


class Failure(Exception):
    pass


def check(cond, message):
    if not cond:
        raise Failure(message)


def wait_for(predicate, what, timeout):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.5)


def run(args, env=None, cwd=None, timeout=300):
    p = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if p.returncode != 0:
        raise Failure(f"{' '.join(args)} failed ({p.returncode}):\n{p.stdout}{p.stderr}")
    return p


def clean_env(home, keep_display=True):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": home,
        "XDG_CACHE_HOME": os.path.join(home, "cache"),
        "XDG_DATA_HOME": os.path.join(home, "data"),
        "XDG_CONFIG_HOME": os.path.join(home, "config"),
        "LANG": "C.UTF-8",
        # Settings in memory, not in the developer's dconf database.
        "GSETTINGS_BACKEND": "memory",
    }
    if keep_display:
        for name in ("DISPLAY", "DBUS_SESSION_BUS_ADDRESS", "GDK_BACKEND", "GSK_RENDERER", "GDK_DEBUG",
                     "GTK_A11Y", "XAUTHORITY"):
            if name in os.environ:
                env[name] = os.environ[name]
    return env


def main():
    build, source = (os.path.realpath(a) for a in sys.argv[1:3])
    top = tempfile.mkdtemp(prefix="facet-installed-")
    ok = False
    app = None
    try:
        stage = os.path.join(top, "stage")
        run(["meson", "install", "-C", build, "--destdir", stage, "--no-rebuild", "--quiet"])
        prefixes = glob.glob(os.path.join(stage, "**", "bin", "facet-cli"), recursive=True)
        check(len(prefixes) == 1, f"installed facet-cli: {prefixes}")
        prefix = os.path.dirname(os.path.dirname(prefixes[0]))
        share = os.path.join(prefix, "share")
        # meson skips its post-install steps under --destdir; packages do this.
        run(["glib-compile-schemas", os.path.join(share, "glib-2.0", "schemas")])

        desktop = glob.glob(os.path.join(share, "applications", APP_ID_PREFIX + "*.desktop"))
        metainfo = glob.glob(os.path.join(share, "metainfo", APP_ID_PREFIX + "*.metainfo.xml"))
        check(len(desktop) == 1 and len(metainfo) == 1, f"desktop {desktop}, metainfo {metainfo}")
        app_id = os.path.basename(desktop[0])[:-len(".desktop")]
        want = [
            "bin/facet", "bin/facet-cli",
            f"share/icons/hicolor/scalable/apps/{app_id}.svg",
            f"share/icons/hicolor/symbolic/apps/{app_id}-symbolic.svg",
            "share/glib-2.0/schemas/io.github.facet.Facet.gschema.xml",
            "share/locale/de/LC_MESSAGES/facet.mo", "share/locale/nl/LC_MESSAGES/facet.mo",
            "share/facet/demo/facet-demo.safetensors", "share/facet/demo/facet-demo.metrics.json",
            "share/facet/demo/facet-demo.recipe",
        ]
        missing = [w for w in want if not os.path.exists(os.path.join(prefix, w))]
        check(not missing, f"not installed: {missing}")
        run(["desktop-file-validate", desktop[0]])
        run(["appstreamcli", "validate", "--no-net", "--explain", metainfo[0]])
        with open(metainfo[0]) as f:
            text = f.read()
        check("<screenshot" in text and "<release " in text, "metainfo without screenshots or releases")

        home = os.path.join(top, "home")
        os.makedirs(home)
        env = clean_env(home)
        for value in env.values():
            check(build not in value and source not in value, f"a build or source path in the environment: {value}")

        # facet-cli: help, and a prediction with the installed model.
        cli = os.path.join(prefix, "bin", "facet-cli")
        out = run([cli, "--help"], env=env, cwd=home).stdout
        check("analyze" in out and "predict" in out, f"facet-cli --help: {out}")
        image = os.path.join(home, "astronaut.png")
        shutil.copy(os.path.join(source, "data", "sample", "astronaut.png"), image)
        model = os.path.join(share, "facet", "demo", "facet-demo.safetensors")
        out = run([cli, "predict", "--model", model, "--json", image], env=env, cwd=home).stdout
        result = json.loads(out.splitlines()[0])
        check(len(result["prob"]) == len(result["au"]) > 0
              and all(0.0 <= p <= 1.0 for p in result["prob"]), f"predict: {out}")
        print(f"ok: installed facet-cli predicts {len(result['au'])} AUs with the installed model")

        # facet --demo: the demo project in the cache folder, the installed model.
        log = open(os.path.join(top, "facet.log"), "w")
        t0 = time.monotonic()
        app = subprocess.Popen([os.path.join(prefix, "bin", "facet"), "--demo"], env=env, cwd=home,
                               stdout=log, stderr=subprocess.STDOUT)
        log.close()
        project = os.path.join(home, "cache", "facet", "demo", "demo.facet")

        def built():
            check(app.poll() is None, f"facet exited ({app.returncode}): {open(log.name).read()}")
            return os.path.exists(project)
        wait_for(built, "the demo project in the cache folder", timeout=400)
        print(f"ok: facet --demo made {project} in {time.monotonic() - t0:.0f} s")
        db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
        models = [r[0] for r in db.execute("SELECT file FROM models")]
        videos = [r[0] for r in db.execute("SELECT abs_path FROM videos")]
        db.close()
        check(models == [model], f"the demo's model should be the installed one: {models}")
        check(videos and all(v.startswith(os.path.join(home, "cache", "facet", "demo")) for v in videos),
              f"the demo's videos should be in the cache folder: {videos}")

        def window():
            p = subprocess.run(["xwininfo", "-root", "-tree"], env=env, capture_output=True, text=True)
            return '"Facet"' in p.stdout
        wait_for(window, "the Facet window", timeout=60)

        def analysing():
            db = sqlite3.connect(f"file:{project}?mode=ro", uri=True)
            try:
                return db.execute("SELECT count(*) FROM runs").fetchone()[0] > 0
            finally:
                db.close()
        wait_for(analysing, "the app to start analysing the demo", timeout=120)
        print("ok: the installed app shows the demo and analyses it with the installed model")

        bus_path = "/" + app_id.replace(".", "/")
        run(["gdbus", "call", "--session", "--dest", app_id, "--object-path", bus_path,
             "--method", "org.gtk.Actions.Activate", "quit", "[]", "{}"], env=env)
        try:
            rc = app.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise Failure("facet did not quit through its quit action")
        check(rc == 0, f"facet quit with status {rc}: {open(log.name).read()}")
        with open(log.name) as f:
            errors = [line for line in f if "CRITICAL" in line or "schema" in line]
        check(not errors, f"facet printed: {errors}")
        ok = True
    except Failure as e:
        print(f"FAIL: {e}")
    finally:
        if app is not None and app.poll() is None:
            app.kill()
            app.wait()
        if ok:
            shutil.rmtree(top, ignore_errors=True)
        else:
            print(f"(files kept in {top})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

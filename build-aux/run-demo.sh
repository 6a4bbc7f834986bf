#!/bin/sh
# `make run`: opens the demo project in Facet, straight from the build
# folder. On the first run the app renders the demo's synthetic subjects
# into BUILDDIR/demo (a minute at most), then analyses them in the
# background while you look; later runs open it at once.
#
#   build-aux/run-demo.sh [BUILDDIR]
set -eu
builddir=${1:-build}
app="$builddir/src/app/facet"
if [ ! -x "$app" ]; then
  echo "run-demo.sh: $app is missing: the application needs gtk4 and libadwaita-1" \
       "(build-aux/install-deps.sh installs them), then make" >&2
  exit 1
fi
# Uninstalled: the settings schema compiled into the build folder.
GSETTINGS_SCHEMA_DIR="$builddir/data${GSETTINGS_SCHEMA_DIR:+:$GSETTINGS_SCHEMA_DIR}"
export GSETTINGS_SCHEMA_DIR
# Uninstalled: the translations compiled into the build folder.
FACET_LOCALEDIR="$builddir/po"
export FACET_LOCALEDIR
exec "$app" --demo-folder "$builddir/demo"

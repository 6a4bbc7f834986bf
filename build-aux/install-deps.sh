#!/bin/sh
# Installs the Debian 12 packages Facet needs to build, test and run, and
# nothing else: apt-get runs only when something on the list is missing.
set -eu

PACKAGES="
  gcc g++ make meson ninja-build pkg-config
  clang libclang-rt-14-dev
  glslc
  libglib2.0-dev libglib2.0-bin libjson-glib-dev libzip-dev
  libopenblas-dev libopenblas0-pthread
  libturbojpeg0-dev libpng-dev libcairo2-dev
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev ffmpeg
  libdlib-dev libdlib-data
  libsqlite3-dev sqlite3 libxml2-dev libxml2-utils
  libgtk-4-dev libadwaita-1-dev
  libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  python3 python3-torch python3-torchvision python3-numpy python3-pandas python3-pil
  xvfb xauth dbus dbus-x11 imagemagick libx11-dev libxtst-dev
  desktop-file-utils appstream gettext locales-all
  valgrind
  locales-all r-base-core
  slurmd slurmctld slurm-client munge
  flatpak-builder
"

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  exit 0
fi

echo "Installing missing packages:$missing"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
  else
    echo "error: these packages are missing and this is not root:$missing" >&2
    exit 1
  fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing

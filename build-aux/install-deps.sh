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
  curl ca-certificates
"


# The CNN face detector's weights: face-api.js's tiny face detector (MIT),
# from the npm package @vladmandic/face-api, checked against the tarball's
# sha256 (npm's own sha512 integrity is checked too when npm fetches it).
# Only the detector's manifest and .bin are kept, beside dlib's landmark
# model, where Facet looks for them (src/face/face-detector.c); nothing is
# fetched at run time. FACET_FACE_CNN_DIR installs elsewhere.
FACE_API_VERSION=1.7.15
FACE_API_TGZ_SHA256=0d77fffeef362ef9c0939cf6c567f3a2e8e177f114fa257a3270cbd2e509b031
FACE_CNN_BIN_SHA256=b7503ce7df31039b1c43316a9b865cab6a70dd748cc602d3fa28b551503c3871
FACE_CNN_DIR=${FACET_FACE_CNN_DIR:-/usr/share/dlib}
# The same tarball's six demo photographs (real group photographs, 22
# faces, 1.2 MB; MIT), for tests/face/test_face_photos.py: test data only,
# outside the system's folders. FACET_FACE_PHOTOS_DIR installs elsewhere.
FACE_PHOTOS_DIR=${FACET_FACE_PHOTOS_DIR:-/usr/local/share/facet-test/face-api-demo}
FACE_PHOTOS_SHA256=ab680326a7490040d4f665e78342291a286ff5cbb79c20fa8b7d66e848db71c9

face_cnn_installed() {
  [ -f "$FACE_CNN_DIR/tiny_face_detector_model-weights_manifest.json" ] \
    && [ -f "$FACE_CNN_DIR/tiny_face_detector_model.bin" ] \
    && echo "$FACE_CNN_BIN_SHA256  $FACE_CNN_DIR/tiny_face_detector_model.bin" | sha256sum -c --status
}

# The six photographs, hashed together in order.
face_photos_installed() {
  [ "$(cat "$FACE_PHOTOS_DIR"/sample1.jpg "$FACE_PHOTOS_DIR"/sample2.jpg "$FACE_PHOTOS_DIR"/sample3.jpg \
        "$FACE_PHOTOS_DIR"/sample4.jpg "$FACE_PHOTOS_DIR"/sample5.jpg "$FACE_PHOTOS_DIR"/sample6.jpg \
        2>/dev/null | sha256sum | cut -d' ' -f1)" = "$FACE_PHOTOS_SHA256" ]
}

install_face_cnn() {
  manifest=tiny_face_detector_model-weights_manifest.json
  weights=tiny_face_detector_model.bin
  if face_cnn_installed && face_photos_installed; then
    return 0
  fi
  echo "Installing the CNN face detector (@vladmandic/face-api $FACE_API_VERSION, MIT) in $FACE_CNN_DIR"
  echo "and its demo photographs (test data) in $FACE_PHOTOS_DIR"
  work=$(mktemp -d)
  tgz="$work/face-api-$FACE_API_VERSION.tgz"
  if command -v npm >/dev/null 2>&1; then
    (cd "$work" && npm pack --silent "@vladmandic/face-api@$FACE_API_VERSION" >/dev/null) \
      && mv "$work/vladmandic-face-api-$FACE_API_VERSION.tgz" "$tgz"
  else
    curl -fsSL -o "$tgz" \
      "https://registry.npmjs.org/@vladmandic/face-api/-/face-api-$FACE_API_VERSION.tgz"
  fi
  if ! echo "$FACE_API_TGZ_SHA256  $tgz" | sha256sum -c --status; then
    echo "error: the face-api tarball does not have the expected sha256" >&2
    rm -rf "$work"
    return 1
  fi
  tar -xzf "$tgz" -C "$work" "package/model/$manifest" "package/model/$weights" \
    package/demo/sample1.jpg package/demo/sample2.jpg package/demo/sample3.jpg \
    package/demo/sample4.jpg package/demo/sample5.jpg package/demo/sample6.jpg
  $SUDO_CNN install -d "$FACE_CNN_DIR"
  $SUDO_CNN install -m644 "$work/package/model/$manifest" "$work/package/model/$weights" \
    "$FACE_CNN_DIR/"
  $SUDO_PHOTOS install -d "$FACE_PHOTOS_DIR"
  $SUDO_PHOTOS install -m644 "$work"/package/demo/sample[1-6].jpg "$FACE_PHOTOS_DIR/"
  rm -rf "$work"
}
SUDO_CNN=""
if [ "$(id -u)" -ne 0 ] && [ ! -w "$FACE_CNN_DIR" ] && command -v sudo >/dev/null 2>&1; then
  SUDO_CNN="sudo"
fi
SUDO_PHOTOS=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1 \
   && ! { mkdir -p "$FACE_PHOTOS_DIR" 2>/dev/null && [ -w "$FACE_PHOTOS_DIR" ]; }; then
  SUDO_PHOTOS="sudo"
fi

missing=""
for p in $PACKAGES; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing="$missing $p"
  fi
done

if [ -z "$missing" ]; then
  install_face_cnn
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
install_face_cnn

#!/bin/sh
# include-view.sh VIEW SRCDIR MODULE [BELOW...]
#
# Makes VIEW a folder of symbolic links SRCDIR/M for the module itself and
# the modules below it, and nothing else: the one include folder a module
# is compiled with (src/meson.build), so that an include of a module
# above it or beside it fails to compile.
set -eu
view=$1
src=$2
shift 2
rm -rf "$view"
mkdir -p "$view"
for m in "$@"; do
  ln -s "$src/$m" "$view/$m"
done

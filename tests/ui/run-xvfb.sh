#!/bin/sh
# Runs a command on a private Xvfb display inside its own D-Bus session:
#   tests/ui/run-xvfb.sh COMMAND [ARGS...]
# The display number is the first free one from 90 on; the server is
# stopped by its process id when the command ends.
set -eu

display=90
while [ -e "/tmp/.X11-unix/X$display" ] || [ -e "/tmp/.X$display-lock" ]; do
  display=$((display + 1))
done

Xvfb ":$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill "$xvfb" 2>/dev/null || true' EXIT INT TERM

# Wait for the server's socket (at most 10 s).
i=0
while [ ! -e "/tmp/.X11-unix/X$display" ]; do
  i=$((i + 1))
  if [ "$i" -gt 100 ]; then
    echo "run-xvfb.sh: Xvfb :$display did not start" >&2
    exit 1
  fi
  sleep 0.1
done

export DISPLAY=":$display"
export GDK_BACKEND=x11
export GSK_RENDERER="${GSK_RENDERER:-cairo}"
# Cairo draws everything: no GL context, no software GL driver loaded.
export GDK_DEBUG="${GDK_DEBUG:-gl-disable}"
# No AT-SPI bus: its registry daemon writes to stdout, which is TAP here.
export GTK_A11Y=none
dbus-run-session -- "$@"

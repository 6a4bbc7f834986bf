#!/bin/sh
# Runs a command on a private Xvfb display inside its own D-Bus session:
#   tests/ui/run-xvfb.sh COMMAND [ARGS...]
# The server picks the first free display itself (-displayfd: it takes the
# display's lock atomically, so tests started at the same moment never
# share one, as a free-number probe here could); it is stopped by its
# process id when the command ends.
set -eu

number=$(mktemp)
Xvfb -displayfd 3 -screen 0 1600x1000x24 -nolisten tcp 3>"$number" >/dev/null 2>&1 &
xvfb=$!
trap 'kill "$xvfb" 2>/dev/null || true; rm -f "$number"' EXIT INT TERM

# Xvfb writes the display number once it accepts clients (at most 10 s).
i=0
while ! grep -q '[0-9]' "$number" 2>/dev/null; do
  i=$((i + 1))
  if [ "$i" -gt 100 ] || ! kill -0 "$xvfb" 2>/dev/null; then
    echo "run-xvfb.sh: Xvfb did not start" >&2
    exit 1
  fi
  sleep 0.1
done
display=$(head -n 1 "$number")

export DISPLAY=":$display"
export GDK_BACKEND=x11
export GSK_RENDERER="${GSK_RENDERER:-cairo}"
# Cairo draws everything: no GL context, no software GL driver loaded.
export GDK_DEBUG="${GDK_DEBUG:-gl-disable}"
# No AT-SPI bus: its registry daemon writes to stdout, which is TAP here.
export GTK_A11Y=none
dbus-run-session -- "$@"

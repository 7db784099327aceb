#!/bin/sh
# xueliang-entrypoint: the image's ENTRYPOINT. Renders the configuration, then runs the
# command given (`xueliang run …`, `xueliang cameras apply …`, …) in its place, so that the
# command is PID 1 and receives SIGTERM itself.
#
# The configuration files are mounted read-only at $XUELIANG_CONFIG_SRC (default /etc/xueliang:
# a ConfigMap, a bind mount). xueliang.toml has no setting that reads the database password from
# the environment, so a file may hold ${XUELIANG_...} placeholders (the dispatchers' database URL
# does). Every file is copied to $XUELIANG_CONFIG_DIR (default /run/xueliang) with each
# placeholder whose variable is set (from a Secret) replaced by its value; a placeholder whose
# variable is not set stays as written (an edge has no database password, and needs none).
# The commands read the copy: --config /run/xueliang/xueliang.toml.
set -eu
src="${XUELIANG_CONFIG_SRC:-/etc/xueliang}"
dst="${XUELIANG_CONFIG_DIR:-/run/xueliang}"
if [ -d "$src" ]; then
  umask 077   # the copy may hold a password: readable by this user only
  mkdir -p "$dst"
  # envsubst's SHELL-FORMAT: only the XUELIANG_* variables that are set.
  vars="$(env | sed -n 's/^\(XUELIANG_[A-Za-z0-9_]*\)=.*/${\1}/p' | tr '\n' ' ')"
  for f in "$src"/*; do
    [ -f "$f" ] || continue   # a ConfigMap's files are symlinks to files: -f follows them
    name="${f##*/}"
    envsubst "$vars" <"$f" >"$dst/.$name.tmp"
    mv "$dst/.$name.tmp" "$dst/$name"
  done
fi
exec "$@"

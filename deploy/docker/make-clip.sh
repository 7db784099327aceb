#!/bin/sh
# Build step (deploy/docker/Dockerfile, stage `clip`): encodes camsim's street clip once into
# $XUELIANG_CACHE/media, by running the camsim the image ships until it says it listens —
# camsim prepares its clip before it serves (ffmpeg + opencv-doc's vtest.avi), and the file name
# carries its recipe version, so the image holds exactly the clip this binary asks for. The
# runtime image then serves it without ffmpeg.
set -eu
: "${XUELIANG_CACHE:?set XUELIANG_CACHE}"
log="$(mktemp)"
xueliang camsim --cameras 1 --port 0 --listen 127.0.0.1 --clip vtest >"$log" 2>&1 &
pid=$!
i=0
until grep -q 'camsim listening' "$log"; do
  if ! kill -0 "$pid" 2>/dev/null || [ "$i" -ge 600 ]; then
    cat "$log" >&2
    echo "make-clip: camsim did not get ready" >&2
    exit 1
  fi
  i=$((i + 1))
  sleep 1
done
kill "$pid"
wait "$pid" || true
ls -l "$XUELIANG_CACHE/media"

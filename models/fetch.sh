#!/usr/bin/env bash
# Fetch, convert and verify a xueliang detector model into the user's cache.
#
#   models/fetch.sh [MODEL_NAME]          (default: nanodet-m-416)
#
# Output: $CACHE/models/<name>-<version>/{model.onnx,manifest.toml,LICENSE,NOTICE,.verified}
# where CACHE = ${XUELIANG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xueliang}.
# The last line of stdout is the path of model.onnx; progress ("[models] ...") goes to stderr,
# and the noise of npm / pip / tf2onnx to a log file under $CACHE/logs/.
#
# Idempotent: when the .verified stamp exists (written last) the path is printed at once.
# Offline use: put the npm tarball into $CACHE/downloads/ beforehand (it is checked against the
# manifest's sha256) and keep the conversion venv ($CACHE/venv-convert-*); pip honours the
# usual PIP_INDEX_URL / PIP_FIND_LINKS / PIP_NO_INDEX variables.
#
# Needs: bash, coreutils, tar, gzip, flock, python3 (>= 3.11, with venv/ensurepip: Debian
# package python3-venv), npm (only when the tarball is not cached yet).
# Environment: XUELIANG_CACHE, XDG_CACHE_HOME, XUELIANG_PYTHON (host python, default python3).
set -euo pipefail

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
MODEL_NAME="${1:-nanodet-m-416}"
MANIFEST="$SCRIPT_DIR/$MODEL_NAME/manifest.toml"
HOST_PY="${XUELIANG_PYTHON:-python3}"
CACHE="${XUELIANG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/xueliang}"

say() { printf '[models] %s\n' "$*" >&2; }
die() { printf '[models] ERROR: %s\n' "$*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f s", b - a }'; }

case "$MODEL_NAME" in
  ""|*/*|.*) die "invalid model name '$MODEL_NAME'" ;;
esac
[[ -f "$MANIFEST" ]] || die "unknown model '$MODEL_NAME': no $MANIFEST (available: $(
  cd "$SCRIPT_DIR" && ls -d -- */ 2>/dev/null | tr -d / | tr '\n' ' '))"

command -v "$HOST_PY" >/dev/null 2>&1 \
  || die "$HOST_PY not found (apt-get install python3 python3-venv, or set XUELIANG_PYTHON)"
"$HOST_PY" -c 'import sys, tomllib; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null \
  || die "$HOST_PY is older than 3.11 (needed for tomllib); set XUELIANG_PYTHON to a newer python3"

# ---- read the manifest ------------------------------------------------------------------------
MANIFEST_VARS="$("$HOST_PY" - "$MANIFEST" <<'PY'
import hashlib, shlex, sys, tomllib
path = sys.argv[1]
with open(path, "rb") as f:
    m = tomllib.load(f)
src, conv = m["source"], m["convert"]
if src["kind"] != "npm":
    sys.exit(f"unsupported source kind {src['kind']!r}")
reqs = list(conv["python_requirements"])
pyver = "%d.%d" % sys.version_info[:2]
venv_key = hashlib.sha256(("py" + pyver + "\n" + "\n".join(sorted(reqs))).encode()).hexdigest()[:12]
tjs = [f for f in src["files"] if f.endswith(".json")]
if len(tjs) != 1:
    sys.exit("source.files must contain exactly one TF.js model .json")
vals = {
    "M_NAME": m["name"], "M_VERSION": m["version"], "M_FILE": m.get("file", "model.onnx"),
    "S_PACKAGE": src["package"], "S_VERSION": src["version"],
    "S_TARBALL": src.get("tarball") or "", "S_SHA256": src["tarball_sha256"].lower(),
    "S_LICENSE": src.get("license_file", "package/LICENSE"), "S_TFJS": tjs[0],
    "VENV_KEY": venv_key, "PYVER": pyver,
}
for k, v in vals.items():
    print(f"{k}={shlex.quote(str(v))}")
print("S_FILES=(" + " ".join(shlex.quote(f) for f in src["files"]) + ")")
print("REQS=(" + " ".join(shlex.quote(r) for r in reqs) + ")")
PY
)" || die "cannot read $MANIFEST"
eval "$MANIFEST_VARS"

[[ "$M_NAME" == "$MODEL_NAME" ]] || die "manifest name '$M_NAME' != directory '$MODEL_NAME'"
OUT_DIR="$CACHE/models/$M_NAME-$M_VERSION"
MODEL="$OUT_DIR/$M_FILE"
STAMP="$OUT_DIR/.verified"
MANIFEST_SHA="$(sha256sum "$MANIFEST" | cut -d' ' -f1)"

stamp_ok() {
  [[ -f "$STAMP" && -f "$MODEL" ]] && grep -qx "manifest_sha256=$MANIFEST_SHA" "$STAMP"
}

# ---- fast path: already done ------------------------------------------------------------------
if stamp_ok; then
  say "$M_NAME $M_VERSION already verified"
  printf '%s\n' "$MODEL"
  exit 0
fi

T_ALL="$(now)"
mkdir -p "$CACHE/downloads" "$CACHE/models" "$CACHE/logs" "$CACHE/tmp"

# One fetch per model at a time (concurrent callers wait, then take the fast path).
exec 9>"$CACHE/models/.$M_NAME-$M_VERSION.lock"
if command -v flock >/dev/null 2>&1; then
  flock -n 9 || { say "another fetch of $M_NAME is running; waiting"; flock 9; }
fi
if stamp_ok; then
  say "$M_NAME $M_VERSION verified by a concurrent run"
  printf '%s\n' "$MODEL"
  exit 0
fi
if [[ -f "$STAMP" ]]; then
  say "stamp in $OUT_DIR is for a different manifest; rebuilding"
fi

LOG="$CACHE/logs/fetch-$M_NAME-$(date +%Y%m%d-%H%M%S)-$$.log"
: >"$LOG"
say "fetching $M_NAME $M_VERSION into $OUT_DIR (log: $LOG)"

WORK="$(mktemp -d "$CACHE/tmp/$M_NAME.XXXXXX")"
cleanup() { rm -rf "$WORK"; rm -f "$OUT_DIR"/.*.tmp.$$ "$OUT_DIR"/*.tmp.$$ 2>/dev/null || true; }
trap cleanup EXIT

log_tail() { say "last lines of $LOG:"; tail -n "${1:-25}" "$LOG" | sed 's/^/    /' >&2; }

# ---- 1. download the npm tarball ----------------------------------------------------------
TARBALL_NAME="${S_TARBALL:-$(printf '%s' "$S_PACKAGE" | sed 's/^@//; s#/#-#')-$S_VERSION.tgz}"
TARBALL="$CACHE/downloads/$TARBALL_NAME"
sha_of() { sha256sum "$1" | cut -d' ' -f1; }

if [[ -f "$TARBALL" ]]; then
  T="$(now)"
  got="$(sha_of "$TARBALL")"
  if [[ "$got" != "$S_SHA256" ]]; then
    die "cached tarball $TARBALL has sha256 $got, but the manifest pins $S_SHA256.
          It is corrupt or not the pinned release: delete it and run again to re-download."
  fi
  say "tarball cached and sha256 OK: $TARBALL ($(since "$T"))"
else
  command -v npm >/dev/null 2>&1 \
    || die "npm not found: cannot download $S_PACKAGE@$S_VERSION (apt-get install npm, or put $TARBALL_NAME into $CACHE/downloads/)"
  say "npm pack $S_PACKAGE@$S_VERSION ..."
  T="$(now)"
  mkdir -p "$WORK/pack"
  if ! (cd "$WORK/pack" && npm pack "$S_PACKAGE@$S_VERSION" --silent) >>"$LOG" 2>&1; then
    log_tail
    die "npm could not download $S_PACKAGE@$S_VERSION (is registry.npmjs.org reachable? see $LOG)"
  fi
  shopt -s nullglob
  packed=("$WORK"/pack/*.tgz)
  shopt -u nullglob
  [[ ${#packed[@]} -eq 1 ]] || die "npm pack produced ${#packed[@]} tarballs, expected 1"
  got="$(sha_of "${packed[0]}")"
  if [[ "$got" != "$S_SHA256" ]]; then
    die "downloaded $S_PACKAGE@$S_VERSION has sha256 $got, but the manifest pins $S_SHA256 — refusing to use it"
  fi
  mv -f "${packed[0]}" "$TARBALL"
  say "downloaded $TARBALL ($(du -h "$TARBALL" | cut -f1), sha256 OK) in $(since "$T")"
fi

# ---- 2. extract only the needed files -----------------------------------------------------
T="$(now)"
tar -xzf "$TARBALL" -C "$WORK" "${S_FILES[@]}" "$S_LICENSE" >>"$LOG" 2>&1 \
  || { log_tail; die "cannot extract ${S_FILES[*]} $S_LICENSE from $TARBALL"; }
say "extracted ${S_FILES[*]} $S_LICENSE ($(since "$T"))"

# ---- 3. conversion venv -------------------------------------------------------------------
VENV="$CACHE/venv-convert-$VENV_KEY"
VPY="$VENV/bin/python"
if [[ -f "$VENV/.complete" && -x "$VPY" ]]; then
  say "conversion venv present: $VENV"
else
  T="$(now)"
  rm -rf "$VENV"
  say "creating conversion venv $VENV (python $PYVER: ${REQS[*]}); this downloads ~400 MB of wheels (~1.7 GB installed) and takes a minute or more ..."
  "$HOST_PY" -m venv "$VENV" >>"$LOG" 2>&1 \
    || { log_tail; rm -rf "$VENV"; die "cannot create a Python venv with $HOST_PY (on Debian: apt-get install python3-venv)"; }
  if ! "$VPY" -m pip install --disable-pip-version-check --no-input --progress-bar off \
        "${REQS[@]}" >>"$LOG" 2>&1; then
    failed="$(grep -hoE '(No matching distribution found for|Could not find a version that satisfies the requirement|Failed to build|Failed building wheel for) [^ ]+' "$LOG" | sort -u | sed 's/^/    /' || true)"
    log_tail 15
    rm -rf "$VENV"
    die "pip could not install the conversion packages into $VENV:
${failed:-    (see $LOG)}
  requested: ${REQS[*]}  (is pypi.org reachable? see $LOG)"
  fi
  "$VPY" -c 'import tensorflow, tf2onnx, onnx, onnxruntime, numpy' >>"$LOG" 2>&1 \
    || { log_tail; rm -rf "$VENV"; die "the conversion venv installed but its packages do not import (see $LOG)"; }
  "$VPY" -m pip freeze >"$VENV/requirements.lock" 2>>"$LOG" || true
  touch "$VENV/.complete"
  say "venv ready in $(since "$T") ($(du -sh "$VENV" | cut -f1))"
fi

# ---- 4. convert ---------------------------------------------------------------------------
mkdir -p "$OUT_DIR"
rm -f "$STAMP"
TMP_MODEL="$OUT_DIR/.$M_FILE.tmp.$$"
say "converting $S_TFJS to ONNX (tf2onnx) ..."
T="$(now)"
if ! TF_CPP_MIN_LOG_LEVEL=2 CUDA_VISIBLE_DEVICES="" PYTHONWARNINGS=ignore "$VPY" "$SCRIPT_DIR/convert.py" \
      --manifest "$MANIFEST" --tfjs "$WORK/$S_TFJS" --output "$TMP_MODEL" >>"$LOG" 2>&1; then
  log_tail
  die "conversion failed (see $LOG)"
fi
grep -h '^\[models\] convert: \(input\|output\|reshape\)' "$LOG" | sed 's/^\[models\] /[models]   /' >&2 || true
say "converted in $(since "$T") ($(du -h "$TMP_MODEL" | cut -f1))"

# ---- 5. verify ----------------------------------------------------------------------------
T="$(now)"
if ! "$VPY" "$SCRIPT_DIR/verify.py" --manifest "$MANIFEST" "$TMP_MODEL" 2>&1 | tee -a "$LOG" >&2; then
  die "verification of the converted model failed (see above)"
fi
say "verified in $(since "$T")"

# ---- 5b. golden detections (when ffmpeg and the test video are available) -----------------
VIDEO="/usr/share/doc/opencv-doc/examples/data/vtest.avi"
shopt -s nullglob
REFS=("$SCRIPT_DIR/$MODEL_NAME"/reference_frame*.json)
shopt -u nullglob
if [[ "${XUELIANG_SKIP_GOLDEN:-0}" == 1 ]]; then
  say "golden detection check skipped (XUELIANG_SKIP_GOLDEN=1)"
elif [[ ${#REFS[@]} -eq 0 ]]; then
  :
elif ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1 || [[ ! -f "$VIDEO" ]]; then
  say "golden detection check skipped (needs ffmpeg and $VIDEO: apt-get install ffmpeg opencv-doc)"
else
  for ref in "${REFS[@]}"; do
    T="$(now)"
    if ! "$VPY" "$SCRIPT_DIR/smoke.py" --model "$TMP_MODEL" --manifest "$MANIFEST" --video "$VIDEO" \
          --check "$ref" 2>&1 >>"$LOG" | tee -a "$LOG" >&2; then
      die "the converted model does not reproduce the golden detections in $ref (see $LOG)"
    fi
    say "golden detections match $(basename "$ref") ($(since "$T"))"
  done
fi

# ---- 6. install atomically, stamp last ----------------------------------------------------
install_file() {  # src dst
  cp -f "$1" "$2.tmp.$$" && mv -f "$2.tmp.$$" "$2"
}
install_file "$MANIFEST" "$OUT_DIR/manifest.toml"
install_file "$WORK/$S_LICENSE" "$OUT_DIR/LICENSE"
if [[ -f "$SCRIPT_DIR/$MODEL_NAME/NOTICE" ]]; then
  install_file "$SCRIPT_DIR/$MODEL_NAME/NOTICE" "$OUT_DIR/NOTICE"
fi
sync -f "$TMP_MODEL" 2>/dev/null || true
mv -f "$TMP_MODEL" "$MODEL"

{
  echo "name=$M_NAME"
  echo "version=$M_VERSION"
  echo "manifest_sha256=$MANIFEST_SHA"
  echo "source=$S_PACKAGE@$S_VERSION"
  echo "tarball_sha256=$S_SHA256"
  echo "model_sha256=$(sha_of "$MODEL")"
  echo "venv=$VENV"
  echo "verified_at=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
} >"$STAMP.tmp.$$"
mv -f "$STAMP.tmp.$$" "$STAMP"

say "done in $(since "$T_ALL"): $MODEL"
printf '%s\n' "$MODEL"

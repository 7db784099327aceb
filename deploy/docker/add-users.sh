#!/bin/sh
# xueliang-add-users FILE: adds (or, with --replace, updates) one desk user per line of FILE
# (`login desk display-name`, whitespace-separated, # comments), all with the password in
# XUELIANG_PASSWORD (a Secret). For the demo users of deploy/compose and deploy/kubernetes
# (config/users.tsv); real users get a password each: `xueliang users add` by hand.
# The configuration is the mounted one, $XUELIANG_CONFIG (the variable `xueliang --config`
# reads) or /etc/xueliang/xueliang.toml; `users add` reads the database password from the
# variable its dispatcher.database_password_env names (XUELIANG_DB_PASSWORD).
set -eu
file="${1:?usage: xueliang-add-users USERS_FILE}"
config="${XUELIANG_CONFIG:-/etc/xueliang/xueliang.toml}"
: "${XUELIANG_PASSWORD:?set XUELIANG_PASSWORD (the desk users' password)}"
added=0
while read -r login desk display; do
  case "$login" in '' | '#'*) continue ;; esac
  xueliang users add --config "$config" --username "$login" --desk "$desk" --display-name "$display" --replace
  added=$((added + 1))
done <"$file"
echo "xueliang-add-users: $added users from $file"

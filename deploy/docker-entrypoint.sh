#!/bin/sh
# Entry point of the Chorus image: reads secrets given as files, then replaces itself with node
# (exec: node is PID 1 and receives SIGTERM directly).
#   CHORUS_SECRET_FILE          file holding the token secret (becomes CHORUS_SECRET)
#   CHORUS_REDIS_PASSWORD_FILE  file holding the Redis password, or CHORUS_REDIS_PASSWORD: put into
#                               CHORUS_REDIS_URL (redis://host:port -> redis://:PASSWORD@host:port),
#                               URL-encoded, unless the URL already carries credentials.
#   CHORUS_NODE_NAME            defaults to the container's hostname.
set -eu
if [ -n "${CHORUS_SECRET_FILE:-}" ]; then
  CHORUS_SECRET=$(cat "$CHORUS_SECRET_FILE")
  export CHORUS_SECRET
fi
if [ -n "${CHORUS_REDIS_PASSWORD_FILE:-}" ]; then
  CHORUS_REDIS_PASSWORD=$(cat "$CHORUS_REDIS_PASSWORD_FILE")
fi
if [ -n "${CHORUS_REDIS_PASSWORD:-}" ] && [ -n "${CHORUS_REDIS_URL:-}" ]; then
  CHORUS_REDIS_URL=$(node -e '
    const u = new URL(process.argv[1]);
    if (!u.password) u.password = encodeURIComponent(process.argv[2]);
    process.stdout.write(u.href);' "$CHORUS_REDIS_URL" "$CHORUS_REDIS_PASSWORD")
  export CHORUS_REDIS_URL
fi
unset CHORUS_REDIS_PASSWORD
# Logs name the container (a replica's hostname) unless told otherwise.
CHORUS_NODE_NAME=${CHORUS_NODE_NAME:-$(hostname)}
export CHORUS_NODE_NAME
exec node /app/bin/chorus.js "$@"

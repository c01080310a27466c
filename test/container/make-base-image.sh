#!/usr/bin/env bash
# Makes a local stand-in for docker.io/library/node:24-bookworm-slim: no image registry is reachable
# from these machines, so the Dockerfile's FROM must resolve to a local image. A minbase Debian
# bookworm (debootstrap) with the pinned Node 24 (.node-version) and its npm, both from the npm
# registry through scripts/use-node24.sh (not the host's node), laid out as the official image does
# (/usr/local/bin/node, /usr/local/include/node for native builds, ENV NODE_VERSION, user `node` uid 1000).
# Skips the work when the image already exists with the pinned Node (CI caches it in podman's store).
set -euo pipefail
IMAGE=docker.io/library/node:24-bookworm-slim
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export CONTAINERS_CONF="${CONTAINERS_CONF:-$HERE/containers.conf}"
NODE_VERSION=$(tr -d ' v\r\n' <"$REPO/.node-version")

if podman image exists "$IMAGE"; then
  if podman image inspect "$IMAGE" --format '{{range .Config.Env}}{{println .}}{{end}}' | grep -qx "NODE_VERSION=$NODE_VERSION"; then
    echo "base image $IMAGE exists with Node $NODE_VERSION: reusing it"
    exit 0
  fi
  echo "base image $IMAGE exists but not with Node $NODE_VERSION (.node-version): rebuilding it"
fi
# bin/node, include/node (headers) and lib/node_modules/npm of the pinned version.
NODE_PREFIX=$(bash "$REPO/scripts/use-node24.sh" --prefix)

ROOT=$(mktemp -d /var/tmp/ocpm-base.XXXXXX)
trap 'rm -rf "$ROOT"' EXIT
# The mirror the host's apt uses (the only Debian mirror reachable here).
MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
MIRROR=${MIRROR:-http://deb.debian.org/debian}

echo "debootstrap bookworm from $MIRROR"
debootstrap --variant=minbase bookworm "$ROOT" "$MIRROR" >/dev/null
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/cache/apt/*.bin "$ROOT"/var/lib/apt/lists/*

install -D -m 0755 "$NODE_PREFIX/bin/node" "$ROOT/usr/local/bin/node"
mkdir -p "$ROOT/usr/local/lib/node_modules" "$ROOT/usr/local/include"
cp -a "$NODE_PREFIX/lib/node_modules/npm" "$ROOT/usr/local/lib/node_modules/npm"
cp -a "$NODE_PREFIX/include/node" "$ROOT/usr/local/include/node"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$ROOT/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$ROOT/usr/local/bin/npx"
chroot "$ROOT" groupadd --gid 1000 node
chroot "$ROOT" useradd --uid 1000 --gid node --shell /bin/bash --create-home node

tar -C "$ROOT" -c . | podman import --change "ENV NODE_VERSION=$NODE_VERSION" --change 'CMD ["node"]' - "$IMAGE" >/dev/null
echo "base image $IMAGE imported (Node $NODE_VERSION)"

#!/usr/bin/env bash
# Container test: builds the image with podman, runs it as Kubernetes would (read-only root
# filesystem, writable volumes and tmpfs only), waits for /readyz, sends a message through the fake
# opencode (mounted, never baked into the image), checks /metrics, the HEALTHCHECK, PID 1 and the
# user, then stops it with SIGTERM and checks the exit code and how long the stop took.
# Needs podman, buildah, runc, debootstrap (.ci/run installs them). Run from anywhere:
#   bash test/container/run.sh
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export CONTAINERS_CONF="$HERE/containers.conf"
IMAGE=${OCPM_TEST_IMAGE:-localhost/opencode-process-manager:test}
PORT=3000                 # the image's EXPOSE and the app's default (test/deploy checks they agree)
READY_DEADLINE_S=60       # /readyz; the fake opencode starts in ~0.1 s, the real one in ~3.4 s
STOP_DEADLINE_S=15        # idle service: the drain has nothing to wait for
START=$(date +%s.%N)

say() { printf '[container] %s\n' "$*"; }
fail() { printf '[container] FAIL: %s\n' "$*" >&2; exit 1; }
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

for tool in podman buildah runc debootstrap curl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install podman buildah runc debootstrap curl)"
done

WORK=$(mktemp -d)
CONTAINER="ocpm-test-$$"
cleanup() {
  podman rm -f -v "$CONTAINER" >/dev/null 2>&1 || true
  rm -rf "$WORK"
}
trap cleanup EXIT

bash "$HERE/make-base-image.sh"

# npm in the build stage trusts the registry only through the host's CA bundle; it is mounted for
# the build's RUN steps only and never lands in a layer. Mounted beside, not over, the image's own
# bundle, whose ca-certificates package would fail to configure on a read-only file.
printf 'cafile=/run/build-ca.crt\n' >"$WORK/npmrc"
say "building $IMAGE"
T=$(date +%s.%N)
podman build --quiet --format docker --pull=never --network=host \
  -v /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro \
  -v "$WORK/npmrc:/root/.npmrc:ro" \
  -t "$IMAGE" "$REPO" >/dev/null
say "built in $(elapsed "$T") s, size $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }')"

TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
say "starting the container"
T=$(date +%s.%N)
podman run -d --name "$CONTAINER" -p "127.0.0.1::$PORT" \
  --read-only --tmpfs /tmp --tmpfs /home/node:rw,mode=1777 \
  -v "$REPO/test/fixtures/fake-opencode:/opt/fake-opencode:ro" \
  -e OCPM_OPENCODE_BIN=/opt/fake-opencode/opencode \
  -e OCPM_API_TOKEN="$TOKEN" \
  -e OCPM_DRAIN_TIMEOUT_MS=10000 \
  "$IMAGE" >/dev/null 2> >(grep -v 'systemd' >&2)
HOSTPORT=$(podman port "$CONTAINER" "$PORT/tcp" | head -n1)
[ -n "$HOSTPORT" ] || fail "no published port"
BASE="http://$HOSTPORT"

logs() { podman logs "$CONTAINER" 2>&1 | tail -n 30 >&2; }
# Polls a condition (not a fixed sleep): the loop ends the moment /readyz answers 200.
deadline=$(( $(date +%s) + READY_DEADLINE_S ))
until curl -fsS -m 2 "$BASE/readyz" >/dev/null 2>&1; do
  [ "$(podman inspect "$CONTAINER" --format '{{.State.Running}}')" = true ] || { logs; fail "the container exited before it was ready"; }
  [ "$(date +%s)" -lt "$deadline" ] || { logs; fail "/readyz not 200 within ${READY_DEADLINE_S} s"; }
  sleep 0.1
done
say "ready in $(elapsed "$T") s (podman run to /readyz 200) on $BASE"

[ "$(podman exec "$CONTAINER" cat /proc/1/comm)" = tini ] || fail "PID 1 is not tini"
[ "$(podman exec "$CONTAINER" id -u)" = 1000 ] || fail "the service does not run as uid 1000"
podman exec "$CONTAINER" touch /app/x 2>/dev/null && fail "the root filesystem is writable"
podman healthcheck run "$CONTAINER" >/dev/null 2>&1 || fail "the image's HEALTHCHECK failed"
OPENCODE_VERSION=$(podman exec "$CONTAINER" /app/node_modules/.bin/opencode --version) || fail "the bundled opencode binary does not run"
say "PID 1 tini, uid 1000, read-only root, HEALTHCHECK passes, bundled opencode $OPENCODE_VERSION runs"

api() { curl -sS -m 30 -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }
api -X PUT -d '{"workspace":"demo"}' "$BASE/api/sessions/demo" >"$WORK/session.json"
grep -q '"workspace"' "$WORK/session.json" || { cat "$WORK/session.json" >&2; fail "PUT /api/sessions/demo"; }
api -X POST -d '{"text":"hello from the container test"}' "$BASE/api/sessions/demo/messages" >"$WORK/answer.json"
grep -q 'fake reply #1 .*: hello from the container test' "$WORK/answer.json" ||
  { cat "$WORK/answer.json" >&2; logs; fail "the message did not come back through the fake opencode"; }
say "message answered: $(grep -o '"text":"[^"]*"' "$WORK/answer.json" | head -n1)"

curl -fsS -m 5 "$BASE/metrics" >"$WORK/metrics.txt"
grep -Eq '^opencode_manager_commands_total\{[^}]*outcome="success"[^}]*\} 1$' "$WORK/metrics.txt" ||
  { grep opencode_manager_commands_total "$WORK/metrics.txt" >&2 || true; fail "/metrics does not count the successful turn"; }
grep -q '^opencode_manager_build_info{' "$WORK/metrics.txt" || fail "/metrics has no build_info"
say "/metrics counts the turn"

say "stopping with SIGTERM"
T=$(date +%s.%N)
podman kill --signal TERM "$CONTAINER" >/dev/null
CODE=$(timeout "$STOP_DEADLINE_S" podman wait "$CONTAINER") || { logs; fail "still running ${STOP_DEADLINE_S} s after SIGTERM"; }
STOP_S=$(elapsed "$T")
[ "$CODE" = 0 ] || { logs; fail "exit code $CODE after SIGTERM (expected 0)"; }
podman logs "$CONTAINER" 2>&1 | grep -q 'Shutdown complete' || { logs; fail "no 'Shutdown complete' log line"; }
say "exited 0 in $STOP_S s after SIGTERM"
say "PASS in $(elapsed "$START") s"

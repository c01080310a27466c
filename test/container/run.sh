#!/usr/bin/env bash
# Container test: builds the image with podman and runs it as Kubernetes would (read-only root
# filesystem; writable volumes and tmpfs only).
#  1. With the fake opencode (mounted, never baked into the image): waits for /readyz, checks PID 1,
#     the user, the HEALTHCHECK, sends a message, checks /metrics, then sends SIGTERM while a turn
#     runs: the turn must finish (drain), the exit code be 0, the stop take less than the drain bound.
#  2. With the image's own opencode binary (a provider key, never used), run plainly as docs/deployment.md's
#     `docker run` does (named volumes, writable root): /readyz in server mode, nothing in the
#     service user's home it cannot write, then SIGTERM when idle: exit 0, quickly.
#  3. Isolation: the image's opencode against the stub model on the host; session A's agent runs
#     the attack list against session B and the service (test/container/isolation-attacks.ts).
# Needs podman, buildah, runc, debootstrap, curl (.ci/run installs them). From anywhere:
#   bash test/container/run.sh        (or: npm run test:container)
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
export CONTAINERS_CONF="$HERE/containers.conf"
IMAGE=${OCPM_TEST_IMAGE:-localhost/opencode-process-manager:test}
PORT=3000          # the image's EXPOSE and the app's default (test/deploy checks they agree)
# Deadlines, not sleeps: the waits end as soon as the condition holds. Ready takes ~1 s with the fake
# and ~5 s with the real opencode serve, but minutes on a machine loaded by other work.
READY_DEADLINE_S=180
DRAIN_MS=10000     # OCPM_DRAIN_TIMEOUT_MS in the container
KILL_GRACE_MS=5000 # OCPM_KILL_GRACE_MS in the container
# A stop must end within the drain plus two kill graces (opencode serve's slow exit), the bound the
# Kubernetes grace period is checked against (test/deploy/cross-checks.ts).
STOP_DEADLINE_S=$(((DRAIN_MS + 2 * KILL_GRACE_MS) / 1000))
SLOW_TURN_MS=2000  # the fake's answer delay for the turn that is running at SIGTERM
START=$(date +%s.%N)

say() { printf '[container] %s\n' "$*"; }
fail() { printf '[container] FAIL: %s\n' "$*" >&2; exit 1; }
since() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }

for tool in podman buildah runc debootstrap curl; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (apt-get install podman buildah runc debootstrap curl)"
done

WORK=$(mktemp -d)
CONTAINERS=()
VOLUMES=()
cleanup() {
  for c in "${CONTAINERS[@]}"; do podman rm -f -v "$c" >/dev/null 2>&1 || true; done
  for v in "${VOLUMES[@]}"; do podman volume rm -f "$v" >/dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

bash "$HERE/make-base-image.sh"

# npm in the build stage trusts the registry only through the host's CA bundle: mounted for the RUN
# steps only (never in a layer), beside rather than over the image's own bundle, whose
# ca-certificates package would fail to configure on a read-only file.
printf 'cafile=/run/build-ca.crt\n' >"$WORK/npmrc"
say "building $IMAGE"
T=$(date +%s.%N)
podman build --quiet --format docker --pull=never --network=host \
  -v /etc/ssl/certs/ca-certificates.crt:/run/build-ca.crt:ro \
  -v "$WORK/npmrc:/root/.npmrc:ro" \
  -t "$IMAGE" "$REPO" >/dev/null
say "built in $(since "$T") s, size $(podman image inspect "$IMAGE" --format '{{.Size}}' | awk '{ printf "%.0f MB", $1 / 1e6 }')"

TOKEN=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')

# start NAME [podman run options...]: runs the image detached, sets BASE to its published URL.
start() {
  local name=$1
  shift
  CONTAINERS+=("$name")
  podman run -d --name "$name" -p "127.0.0.1::$PORT" \
    -e OCPM_API_TOKEN="$TOKEN" -e OCPM_DRAIN_TIMEOUT_MS="$DRAIN_MS" -e OCPM_KILL_GRACE_MS="$KILL_GRACE_MS" \
    "$@" "$IMAGE" >/dev/null 2>"$WORK/run.err" || { cat "$WORK/run.err" >&2; fail "podman run"; }
  BASE="http://$(podman port "$name" "$PORT/tcp" | head -n1)"
}

logs() { podman logs "$1" 2>&1 | tail -n 30 >&2; }

# wait_ready NAME: polls /readyz until 200 (the loop ends the moment it answers; no fixed sleep).
wait_ready() {
  local deadline=$(($(date +%s) + READY_DEADLINE_S))
  until curl -fsS -m 2 "$BASE/readyz" >/dev/null 2>&1; do
    [ "$(podman inspect "$1" --format '{{.State.Running}}')" = true ] || { logs "$1"; fail "$1 exited before it was ready"; }
    [ "$(date +%s)" -lt "$deadline" ] || { logs "$1"; fail "$1: /readyz not 200 within $READY_DEADLINE_S s"; }
    sleep 0.1
  done
}

# stop NAME MAX_S: SIGTERM, then the exit code must be 0 within MAX_S s; sets STOP_S.
stop() {
  local t code
  t=$(date +%s.%N)
  podman kill --signal TERM "$1" >/dev/null
  code=$(timeout "$2" podman wait "$1") || { logs "$1"; fail "$1 still running $2 s after SIGTERM"; }
  STOP_S=$(since "$t")
  [ "$code" = 0 ] || { logs "$1"; fail "$1 exited $code after SIGTERM (expected 0)"; }
  # Captured first: `cmd | grep -q` under pipefail fails when grep exits before cmd finishes writing.
  podman logs "$1" >"$WORK/$1.log" 2>&1 || true
  grep -q '"Shutdown complete"' "$WORK/$1.log" || { logs "$1"; fail "$1: no 'Shutdown complete' log line"; }
}

api() { curl -sS -m 30 -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' "$@"; }

# ---- 1. the fake opencode
FAKE="ocpm-test-fake-$$"
T=$(date +%s.%N)
start "$FAKE" --read-only --tmpfs /tmp --tmpfs /home/node:rw,mode=1777 -v "$REPO/test/fixtures/fake-opencode:/opt/fake-opencode:ro" -e OCPM_OPENCODE_BIN=/opt/fake-opencode/opencode
wait_ready "$FAKE"
say "fake opencode: ready in $(since "$T") s (podman run to /readyz 200) on $BASE"

[ "$(podman exec "$FAKE" cat /proc/1/comm)" = tini ] || fail "PID 1 is not tini"
[ "$(podman exec "$FAKE" id -u)" = 1000 ] || fail "the service does not run as uid 1000"
if podman exec "$FAKE" touch /app/x 2>/dev/null; then fail "the root filesystem is writable"; fi
podman healthcheck run "$FAKE" >/dev/null 2>&1 || fail "the image's HEALTHCHECK failed"
say "PID 1 tini, uid 1000, read-only root, HEALTHCHECK passes"

# The image runs the Node pinned in .node-version (make-base-image.sh puts it in the base image).
NODE_WANT="v$(tr -d ' v\r\n' <"$REPO/.node-version")"
NODE_GOT=$(podman exec "$FAKE" node --version)
[ "$NODE_GOT" = "$NODE_WANT" ] || fail "the container runs node $NODE_GOT, expected $NODE_WANT (.node-version)"
say "node $NODE_GOT in the container (.node-version)"

# opencode's plugin package is in the image at opencode's own version: no session installs it.
PLUGIN_CHECK='const want = require("/app/node_modules/opencode-ai/package.json").version;
const got = require(process.env.OCPM_OPENCODE_PLUGIN_DIR + "/node_modules/@opencode-ai/plugin/package.json").version;
if (got !== want) { console.error(`plugin ${got}, opencode ${want}`); process.exit(1); }'
podman exec "$FAKE" node -e "$PLUGIN_CHECK" || fail "the image's opencode plugin package (OCPM_OPENCODE_PLUGIN_DIR) is not opencode's version"
say "opencode's plugin package in the image at opencode's version"

api -X PUT -d '{"workspace":"demo"}' "$BASE/api/sessions/demo" >"$WORK/session.json"
grep -q '"workspace"' "$WORK/session.json" || { cat "$WORK/session.json" >&2; fail "PUT /api/sessions/demo"; }
api -X POST -d '{"text":"hello from the container test"}' "$BASE/api/sessions/demo/messages" >"$WORK/answer.json"
grep -q 'fake reply #1 .*: hello from the container test' "$WORK/answer.json" ||
  { cat "$WORK/answer.json" >&2; logs "$FAKE"; fail "the message did not come back through the fake opencode"; }
say "message answered: $(grep -o '"text":"[^"]*"' "$WORK/answer.json" | head -n1)"

# The operator CLI is on PATH and finds the service and its token (OCPM_API_TOKEN) inside the container.
podman exec "$FAKE" ocpm status >"$WORK/ocpm-status.txt" || fail "ocpm status in the container exited non-zero"
grep -q '^state  *ready$' "$WORK/ocpm-status.txt" || fail "ocpm status in the container does not say ready"
podman exec "$FAKE" ocpm sessions >"$WORK/ocpm-sessions.txt" || fail "ocpm sessions in the container exited non-zero"
grep -q '^demo ' "$WORK/ocpm-sessions.txt" || fail "ocpm sessions in the container does not list demo"
say "ocpm on PATH in the image: status and sessions answer"
# The operator console's page ships in the image (public/, found relative to dist/).
curl -fsS -m 5 -o "$WORK/console.html" "$BASE/console" || fail "GET /console failed"
grep -q '/console/console.js' "$WORK/console.html" || fail "GET /console does not serve the console page"
curl -fsS -m 5 -o /dev/null "$BASE/console/console.js" || fail "GET /console/console.js failed"
say "the console page is served at /console"

curl -fsS -m 5 "$BASE/metrics" >"$WORK/metrics.txt"
grep -Eq '^opencode_manager_commands_total\{[^}]*outcome="success"[^}]*\} 1$' "$WORK/metrics.txt" ||
  { grep opencode_manager_commands_total "$WORK/metrics.txt" >&2 || true; fail "/metrics does not count the successful turn"; }
grep -q '^opencode_manager_build_info{' "$WORK/metrics.txt" || fail "/metrics has no build_info"
say "/metrics counts the turn"

# A turn in flight at SIGTERM: it must be answered (drain), then the service exits 0.
api -X POST -d "{\"text\":\"#fake delay=$SLOW_TURN_MS\\nstill answered after SIGTERM\"}" "$BASE/api/sessions/demo/messages" >"$WORK/slow.json" &
SLOW=$!
deadline=$(($(date +%s) + 30))
until grep -q '"runningTurns":1' <<<"$(curl -fsS -m 2 -H "authorization: Bearer $TOKEN" "$BASE/api/opencode/status" 2>/dev/null || true)"; do
  [ "$(date +%s)" -lt "$deadline" ] || fail "the slow turn never started"
  sleep 0.05
done
stop "$FAKE" "$STOP_DEADLINE_S"
wait "$SLOW" || fail "the request in flight at SIGTERM failed"
grep -q 'fake reply #2 .*: still answered after SIGTERM' "$WORK/slow.json" || { cat "$WORK/slow.json" >&2; fail "the turn in flight at SIGTERM was not answered"; }
say "SIGTERM with a ${SLOW_TURN_MS} ms turn in flight: the turn was answered, exit 0 after $STOP_S s"

# ---- 2. the image's own opencode (server mode; starting needs no model call, ready needs a provider:
#         a key that is never used, which the model gateway takes and opencode never sees)
REAL="ocpm-test-real-$$"
T=$(date +%s.%N)
start "$REAL" -v "ocpm-test-workspaces-$$:/workspaces" -v "ocpm-test-data-$$:/data" -e ANTHROPIC_API_KEY=sk-ant-container-test-unused
VOLUMES+=("ocpm-test-workspaces-$$" "ocpm-test-data-$$")
wait_ready "$REAL"
READY_S=$(since "$T")
curl -fsS -m 5 -H "authorization: Bearer $TOKEN" "$BASE/api/opencode/status" >"$WORK/status.json"
grep -q '"version":"1\.' "$WORK/status.json" && grep -q '"mode":"server"' "$WORK/status.json" && grep -q '"providers":\["anthropic"\]' "$WORK/status.json" ||
  { cat "$WORK/status.json" >&2; fail "the bundled opencode is not serving"; }
FOREIGN=$(podman exec "$REAL" find /home/node /workspaces /data ! -user 1000 -print)
[ -z "$FOREIGN" ] || fail "not owned by the service user: $FOREIGN"
say "bundled opencode $(grep -o '"version":"[^"]*"' "$WORK/status.json" | head -n1): ready in $READY_S s in server mode"
stop "$REAL" "$STOP_DEADLINE_S"
say "bundled opencode: idle SIGTERM, exit 0 after $STOP_S s"

# ---- 3. isolation: the attack list as uid 1000 in the image, with its bundled opencode
T=$(date +%s.%N)
node --import tsx "$REPO/test/container/isolation-attacks.ts" "$IMAGE" || fail "isolation in the container"
say "isolation: attack list run in $(since "$T") s"
say "PASS in $(since "$START") s"

# opencode-process-manager image: build stage compiles TypeScript and the native SQLite module; the
# runtime stage holds production dependencies only (opencode-ai brings the opencode binary).
# Build: podman/docker build -t opencode-process-manager . (docs/deployment.md has the local recipe).

FROM node:24-bookworm-slim AS build
ENV npm_config_update_notifier=false
# better-sqlite3 compiles from source when its prebuilt binary cannot be downloaded (only the npm
# registry is reachable on our build machines); node-gyp takes the headers from the image, not the web.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# node-gyp reads this one before npm_config_nodedir, and npm does not warn about it as an unknown config.
ENV npm_package_config_node_gyp_nodedir=/usr/local
WORKDIR /app
COPY package.json package-lock.json ./
# The project's own install script compiles the Landlock launcher (native/ -> build/ocpm-sandbox).
COPY native ./native
# package.json's allowScripts lets opencode-ai (places the platform binary) and better-sqlite3 run.
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY bin ./bin
# The operator console's static page (GET /console), served from ../public next to dist/.
COPY public ./public
RUN npm run build && npm prune --omit=dev --no-audit --no-fund
# opencode's plugin package at opencode's version, which opencode would otherwise install into every
# isolated session's home at its first turn (95 MB and a registry fetch each): installed once here,
# linked read-only into each session's home (OCPM_OPENCODE_PLUGIN_DIR), nothing fetched at run time.
RUN version="$(node -p "require('opencode-ai/package.json').version")" \
 && npm install --prefix /app/opencode-plugin --save-exact --no-audit --no-fund --ignore-scripts \
      --cache /tmp/plugin-npm-cache "@opencode-ai/plugin@${version}" \
 && rm -rf /tmp/plugin-npm-cache

FROM node:24-bookworm-slim AS runtime
# git: opencode expects it in workspaces. ripgrep: opencode's search tools (it cannot download rg
# offline). tini: PID 1 that forwards SIGTERM to the service and reaps orphaned tool processes.
# Docs, man pages and translations are not installed (~20 MB); copyright files are kept.
RUN printf '%s\n' 'path-exclude /usr/share/doc/*' 'path-include /usr/share/doc/*/copyright' \
      'path-exclude /usr/share/man/*' 'path-exclude /usr/share/locale/*' >/etc/dpkg/dpkg.cfg.d/01-slim \
 && apt-get update \
 && apt-get install -y --no-install-recommends git ripgrep tini ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && mkdir -p /workspaces /data \
 && chown 1000:1000 /workspaces /data
ENV NODE_ENV=production \
    HOME=/home/node \
    PORT=3000 \
    HOST=0.0.0.0 \
    OCPM_WORKSPACE_ROOT=/workspaces \
    OCPM_DATA_DIR=/data \
    OCPM_OPENCODE_PLUGIN_DIR=/app/opencode-plugin
WORKDIR /app
# Owned by root and read-only to the service user: the code cannot be changed at run time.
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
# The operator CLI (docs/cli.md): its launcher runs dist/cli/ocpm.js; on PATH for `podman exec … ocpm`.
COPY --from=build /app/bin ./bin
COPY --from=build /app/public ./public
# The sandbox every session's opencode runs in (OCPM_ISOLATION): Landlock, no privileges needed.
COPY --from=build /app/build ./build
COPY --from=build /app/opencode-plugin ./opencode-plugin
# The binary runs here; its state goes to a scratch HOME/TMPDIR, removed, so nothing root-owned is
# left in the service user's home.
RUN mkdir /tmp/opencode-check \
 && HOME=/tmp/opencode-check TMPDIR=/tmp/opencode-check node_modules/.bin/opencode --version \
 && rm -rf /tmp/opencode-check /tmp/opencode \
 && ln -s /app/bin/ocpm.mjs /usr/local/bin/ocpm \
 && ocpm --help >/dev/null
# Numeric uid so Kubernetes' runAsNonRoot can verify it (user `node` of the base image).
USER 1000:1000
EXPOSE 3000
VOLUME ["/workspaces", "/data"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/livez').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["node", "dist/main.js"]

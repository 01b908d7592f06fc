#!/usr/bin/env bash
# Puts the MCP Inspector (package.json here, every version pinned by package-lock.json) into
# .cache/inspector/ (git-ignored) for the interop tests, with `npm ci --ignore-scripts`, and links
# the Node that runs it there as .cache/inspector/node: the Inspector needs Node >= 22.19, so it is
# the Docker image's Node (.ci/image-node, the one image-node-test runs, from the same cache), or
# SSHGATE_INTEROP_NODE, or the node on PATH if it is recent enough. Does nothing when the install
# was made from this lockfile for this Node. On failure it prints why and leaves install.log
# there: the tests read it and fail with it, they never skip.
set -uo pipefail
cd "$(dirname "$0")/../../.."
dir=.cache/inspector
here=test/interop/inspector
log=$dir/install.log
mkdir -p "$dir"

fail() {
  echo "interop setup: $*" >&2
  exit 1
}

# The Node to run the Inspector on.
if [ -n "${SSHGATE_INTEROP_NODE:-}" ]; then
  node=$(command -v "$SSHGATE_INTEROP_NODE") || fail "SSHGATE_INTEROP_NODE=$SSHGATE_INTEROP_NODE is not an executable"
else
  node=$(.ci/image-node 2>"$log")
  case $? in
    0) ;;
    3) node=$(command -v node) || fail "no Node for the Inspector: set SSHGATE_INTEROP_NODE to a Node >= 22.19" ;;
    *) fail "could not fetch the Docker image's Node (.ci/image-node):$(printf '\n'; tail -n 20 "$log")" ;;
  esac
fi
node=$(realpath "$node")
version=$("$node" -p 'process.versions.node') || fail "$node does not run"
"$node" -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 22 || (a === 22 && b >= 19) ? 0 : 1)' ||
  fail "the MCP Inspector needs Node >= 22.19; $node is $version (set SSHGATE_INTEROP_NODE)"

stamp="$(sha256sum "$here/package-lock.json" | cut -d' ' -f1) $version"
if [ -d "$dir/node_modules/@modelcontextprotocol/inspector" ] && [ "$(cat "$dir/ready" 2>/dev/null)" = "$stamp" ]; then
  ln -sfn "$node" "$dir/node"
  exit 0
fi

rm -rf "$dir/node_modules" "$dir/ready"
cp "$here/package.json" "$here/package-lock.json" "$dir/"
# The lockfile's tree exactly; no lifecycle script runs (the Inspector's own postinstall only
# installs its clients' dependencies in a source checkout). One retry per download.
if (cd "$dir" && npm ci --ignore-scripts --no-audit --no-fund --fetch-retries 1 >install.log 2>&1); then
  ln -sfn "$node" "$dir/node"
  echo "$stamp" >"$dir/ready"
  installed=$("$node" -p "require('./$dir/node_modules/@modelcontextprotocol/inspector/package.json').version")
  echo "interop setup: @modelcontextprotocol/inspector@$installed on Node $version in $dir" >&2
else
  echo "interop setup: npm ci of $here/package-lock.json into $dir failed; the end of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi

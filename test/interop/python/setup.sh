#!/usr/bin/env bash
# Puts the official MCP Python SDK (requirements.txt) into .venv-interop/ (git-ignored) for the
# interop tests. Does nothing when the venv is there and was made from this requirements.txt and
# this Python; otherwise makes it anew. On failure it prints why and leaves install.log in the
# venv's folder: the tests read it and fail with it, they never skip.
set -uo pipefail
cd "$(dirname "$0")/../../.."
venv=.venv-interop
requirements=test/interop/python/requirements.txt
python=${SSHGATE_INTEROP_PYTHON:-python3}

command -v "$python" >/dev/null || { echo "interop setup: no $python on PATH (Debian: apt-get install python3 python3-venv)" >&2; exit 1; }
stamp="$(sha256sum "$requirements" | cut -d' ' -f1) $("$python" -c 'import sys; print(sys.version.split()[0])')"
[ -x "$venv/bin/python" ] && [ "$(cat "$venv/ready" 2>/dev/null)" = "$stamp" ] && exit 0

rm -rf "$venv" && mkdir -p "$venv"
log=$venv/install.log
# One retry per download: the install stays short when an index cannot be reached.
if "$python" -m venv "$venv" >"$log" 2>&1 &&
   "$venv/bin/pip" install --quiet --disable-pip-version-check --retries 1 -r "$requirements" >>"$log" 2>&1; then
  echo "$stamp" >"$venv/ready"
  echo "interop setup: $("$venv/bin/python" -m pip freeze 2>/dev/null | grep -E '^(mcp|jsonschema)==' | tr '\n' ' ')in $venv" >&2
else
  echo "interop setup: installing $requirements into $venv failed; the end of $log:" >&2
  tail -n 20 "$log" >&2
  exit 1
fi

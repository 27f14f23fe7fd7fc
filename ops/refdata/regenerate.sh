#!/usr/bin/env bash
# Regenerates Sources/LoaReference/Resources/*.csv from PyPI's vietnam-provinces.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
venv=$(mktemp -d)
trap 'rm -rf "$venv"' EXIT
python3 -m venv "$venv"
"$venv/bin/pip" install -q "vietnam-provinces==${VIETNAM_PROVINCES_VERSION:-2025.10.1}"
"$venv/bin/python" "$here/build_admin_units.py" "$@"

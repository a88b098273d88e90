#!/usr/bin/env bash
# The wheelhouse the images install from, with no index: every package uv.lock pins for the
# product (no dev tools), as wheels for Debian bookworm's CPython 3.11.2 on x86_64, and uv (the
# installer the Dockerfile uses); greencert itself is the checkout the Dockerfile copies. This is the air-gapped install:
# run it where the package index is reachable, carry the folder to the intranet, build the images
# there (README "Run it on a server"). Usage: docker/wheelhouse.sh DIR (make wheelhouse: var/wheelhouse).
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-var/wheelhouse}
pip=${PIP:-.venv/bin/pip}
uv_version=$(uv --version | awk '{print $2}')
rm -rf "$out.tmp"
mkdir -p "$out.tmp"
uv export --frozen --no-dev --no-hashes --no-emit-project --quiet -o "$out.tmp/requirements.txt"
# pip evaluates a requirement's markers for the Python running it, not for --python-version: the
# lines that apply to the images' Python (Debian bookworm's 3.11.2), markers evaluated here
.venv/bin/python - "$out.tmp/requirements.txt" >"$out.tmp/download.txt" <<'PY'
import sys
from packaging.requirements import Requirement
env = {"python_version": "3.11", "python_full_version": "3.11.2", "implementation_version": "3.11.2",
       "sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64", "os_name": "posix",
       "platform_python_implementation": "CPython", "implementation_name": "cpython"}
for line in open(sys.argv[1]):
    if line.strip() and not line.lstrip().startswith("#"):
        req = Requirement(line.strip())
        if req.marker is None or req.marker.evaluate(env):
            print(f"{req.name}{req.specifier}")
PY
# Debian bookworm: Python 3.11.2 (markers such as python_full_version < "3.11.3" apply), glibc
# 2.36, so every manylinux tag up to 2.36 (pip does not widen a --platform it is given)
platforms=(--platform manylinux2014_x86_64 --platform manylinux2010_x86_64 --platform manylinux1_x86_64)
for minor in $(seq 36 -1 5); do platforms+=(--platform "manylinux_2_${minor}_x86_64"); done
"$pip" download --quiet --quiet --disable-pip-version-check --no-deps --only-binary=:all: "${platforms[@]}" \
    --python-version 3.11.2 --implementation cp --abi cp311 --abi abi3 --abi none \
    -r "$out.tmp/download.txt" "uv==$uv_version" -d "$out.tmp" 2> >(grep -v "is ignored" >&2)
rm "$out.tmp/download.txt"
rm -rf "$out" && mv "$out.tmp" "$out"
echo "$out: $(ls "$out" | grep -c '\.whl$') wheels, $(du -sh "$out" | cut -f1)"

#!/usr/bin/env bash
# The base of every image of docker-compose.yml, made without an image registry: a minimal Debian
# bookworm from the Debian archive apt on this machine already uses (debootstrap --variant=minbase),
# imported as the image $1 (default greencert-debian:bookworm). Done once: an existing image is kept
# (`docker image rm` it to rebuild, e.g. for Debian's point releases).
set -euo pipefail
name=${1:-greencert-debian:bookworm}
if docker image inspect "$name" >/dev/null 2>&1; then
    echo "$name: already built"
    exit 0
fi
# the first non-security archive of apt's sources (one-line or deb822 format)
mirror=${DEBIAN_MIRROR:-$({ cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources \
    2>/dev/null || true; } | sed -nE 's/^(deb(\s+\[[^]]*\])?|URIs:)\s+(\S+).*/\3/p' | grep -v security | head -n1)}
[ -n "$mirror" ] || { echo "no Debian archive found in /etc/apt/sources.list*; set DEBIAN_MIRROR" >&2; exit 1; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
started=$(date +%s)
debootstrap --variant=minbase bookworm "$dir" "$mirror" >"$dir.log" 2>&1 || { tail -20 "$dir.log" >&2; exit 1; }
rm -f "$dir.log"
# apt inside the images: the security archive too, no recommends, no caches left in layers
suite_security=${mirror%/debian}/debian-security
if [ "$suite_security" != "$mirror" ]; then
    echo "deb $suite_security bookworm-security main" >>"$dir/etc/apt/sources.list"
fi
echo 'APT::Install-Recommends "false";' >"$dir/etc/apt/apt.conf.d/90greencert"
rm -rf "$dir"/var/cache/apt/archives/*.deb "$dir"/var/lib/apt/lists/*
tar -C "$dir" -c . | docker import -c 'ENV LANG=C.UTF-8' -c 'CMD ["bash"]' - "$name" >/dev/null
echo "$name: built from $mirror in $(( $(date +%s) - started ))s"

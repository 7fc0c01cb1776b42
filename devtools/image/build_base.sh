#!/usr/bin/env bash
# Builds, with no registry, the local stand-in for apache/airflow:<version>-python3.11 that
# `make image-offline` builds the product image on: a debootstrap root filesystem imported with
# `docker import`, then devtools/image/Dockerfile on top. Prints the stand-in's tag.
#
#   devtools/image/build_base.sh 3.3.2          # as root, with debootstrap and a Docker engine
#
# Settings (environment): DEBIAN_MIRROR (default http://deb.debian.org/debian), DEBIAN_IMAGE
# (the imported root filesystem, reused when it exists), STANDIN_REPO, CA_BUNDLE (the CA
# certificates pip and apt in the image trust; default the host's, so a TLS proxy the host
# trusts works in the build too; empty for none).
set -euo pipefail

AIRFLOW_VERSION=${1:?usage: $0 AIRFLOW_VERSION (the lock pins it: requirements/runtime.txt)}
# Debian bookworm's python3 is 3.11, the locks' interpreter.
PYTHON_VERSION=3.11
SUITE=bookworm
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_IMAGE=${DEBIAN_IMAGE:-crm-books/debian:${SUITE}}
STANDIN_REPO=${STANDIN_REPO:-crm-books/airflow-standin}
CA_BUNDLE=${CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}
HERE=$(cd "$(dirname "$0")" && pwd)
STANDIN="${STANDIN_REPO}:${AIRFLOW_VERSION}-python${PYTHON_VERSION}"

fail() { echo "build_base.sh: $*" >&2; exit 1; }

docker version --format '{{.Server.Version}}' >/dev/null 2>&1 \
  || fail "no Docker engine answers; start one (here: dockerd --iptables=false --bridge=none &)"

work=$(mktemp -d)
# --one-file-system: never follow a /proc or /sys that a failed debootstrap left mounted.
trap 'rm -rf --one-file-system "$work"' EXIT

# Like debian:bookworm-slim: no docs, man pages or translations, no apt caches.
slim_rootfs() {
  local root=$1
  cat >"$root/etc/dpkg/dpkg.cfg.d/01-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
  cat >"$root/etc/apt/apt.conf.d/01-slim" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/*.bin || true"; };
CFG
  cat >"$root/etc/apt/sources.list" <<LIST
deb ${DEBIAN_MIRROR} ${SUITE} main
deb ${DEBIAN_MIRROR} ${SUITE}-updates main
LIST
  find "$root/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
  rm -rf "$root"/usr/share/{man,info,locale}/* "$root"/var/lib/apt/lists/* \
    "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin "$root"/var/log/*.log
}

if docker image inspect "$DEBIAN_IMAGE" >/dev/null 2>&1; then
  echo "reusing $DEBIAN_IMAGE" >&2
else
  command -v debootstrap >/dev/null || fail "needs debootstrap (apt-get install debootstrap)"
  [[ $(id -u) == 0 ]] || fail "debootstrap needs root; run as root or with sudo"
  echo "debootstrap $SUITE from $DEBIAN_MIRROR" >&2
  debootstrap --variant=minbase "$SUITE" "$work/rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" \
    || { tail -20 "$work/debootstrap.log" >&2; fail "debootstrap failed (mirror: $DEBIAN_MIRROR)"; }
  slim_rootfs "$work/rootfs"
  tar --numeric-owner -C "$work/rootfs" -c . \
    | docker import --change 'CMD ["/bin/bash"]' - "$DEBIAN_IMAGE" >/dev/null
fi

mkdir "$work/context"
cp "$HERE/Dockerfile" "$HERE/entrypoint.sh" "$work/context/"
if [[ -n $CA_BUNDLE ]]; then
  cp "$CA_BUNDLE" "$work/context/build-host-ca.crt"
else
  : >"$work/context/build-host-ca.crt"
fi
docker build --network host \
  --build-arg "DEBIAN_IMAGE=$DEBIAN_IMAGE" \
  --build-arg "AIRFLOW_VERSION=$AIRFLOW_VERSION" \
  --tag "$STANDIN" "$work/context" >&2
echo "$STANDIN"

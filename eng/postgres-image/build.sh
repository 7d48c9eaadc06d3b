#!/usr/bin/env bash
# Builds a PostgreSQL container image without a registry: a minimal Debian bookworm root file
# system from the machine's own apt source (debootstrap), Debian's postgresql-15 in it, and
# entrypoint.sh, imported into the local container runtime. Honestly named, not a stand-in for
# the official image's tag. Skips the build when the image is already there.
#   usage: bash eng/postgres-image/build.sh [image:tag]      (as root)
set -euo pipefail
cd "$(dirname "$0")"

image="${1:-s3storage/postgres-debian:15}"
runtime="${ASPIRE_CONTAINER_RUNTIME:-docker}"
if "$runtime" image inspect "$image" >/dev/null 2>&1; then
  echo "$image is already built"
  exit 0
fi

mirror=$(sed -n 's/^URIs: *//p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n 1)
mirror="${mirror:-$(awk '$1 == "deb" { print $2; exit }' /etc/apt/sources.list 2>/dev/null)}"
mirror="${mirror:-http://deb.debian.org/debian}"

rootfs=$(mktemp -d /var/tmp/s3storage-postgres-rootfs.XXXXXX)
trap 'rm -rf "$rootfs"' EXIT
echo "debootstrap bookworm from $mirror into $rootfs"
debootstrap --variant=minbase --include=postgresql-15 bookworm "$rootfs" "$mirror" >/dev/null

# The package made a cluster of its own; the entrypoint makes the one the environment asks for.
rm -rf "$rootfs/var/lib/postgresql/15" "$rootfs/etc/postgresql/15"
rm -rf "$rootfs/var/cache/apt/archives/"*.deb "$rootfs/var/lib/apt/lists/"*
install -m 0755 entrypoint.sh "$rootfs/usr/local/bin/postgres-entrypoint"

tar -C "$rootfs" -c . | "$runtime" import \
  --change 'ENV PGDATA=/var/lib/postgresql/data' \
  --change 'ENV LANG=C.UTF-8' \
  --change 'EXPOSE 5432' \
  --change 'ENTRYPOINT ["/usr/local/bin/postgres-entrypoint"]' \
  - "$image" >/dev/null
echo "built $image ($("$runtime" image inspect --format '{{.Size}}' "$image") bytes)"

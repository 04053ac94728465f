#!/bin/sh
# Installs every Debian package berth needs to build, run, test and benchmark.
# Idempotent: packages already present are not fetched again, and apt-get update
# runs only when something is missing.
set -eu
# `deps.sh deb`: only what building and testing the Debian package need (make deb, make test-deb).
if [ "${1:-}" = deb ]; then
    PKGS="build-essential pkg-config dpkg-dev debhelper fakeroot lintian help2man
libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev libssl-dev libarchive-dev libcurl4-openssl-dev libargon2-dev libxml2-dev
python3 python3-pytest python3-requests logrotate man-db"
else
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libmicrohttpd-dev libjansson-dev libsqlite3-dev libpq-dev libssl-dev libarchive-dev libcurl4-openssl-dev libcmocka-dev libargon2-dev
libxml2-dev
postgresql
python3 python3-pytest python3-pytest-xdist python3-boto3 python3-requests python3-prometheus-client python3-psycopg2
skopeo podman buildah curl uidmap openssl jq strace
docker-registry apache2-utils wrk containerd
chromium chromium-driver python3-selenium
ceph-mon ceph-osd ceph-mgr radosgw ceph-common
nginx"
fi
# nginx: the load balancer of the several-servers tests (deploy/nginx/berth.conf, run by the tests
# as an unprivileged process on loopback ports). Debian's package also enables nginx.service,
# which on a machine with systemd serves its default page on port 80 until
# `systemctl disable --now nginx`; nothing here needs that service.
missing=""
for p in $PKGS; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "deps: installing:$missing"
    SUDO=""
    [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ "${1:-}" != deb ] || exit 0
# The aws CLI may already come from elsewhere (pyenv's v1 on developer machines); only
# fall back to Debian's when none is on PATH.
if ! command -v aws >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends awscli >/dev/null
fi
# The docker CLI (daemon-less commands only: login, manifest) is on the machine image;
# Debian's docker.io provides it where it is not.
if ! command -v docker >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends docker.io >/dev/null
fi
# The AWS SDK for JavaScript v3 for tests/integration/test_js_sdk.py, exactly as the lockfile
# pins it (npm ci), again only when the lockfile changed since the last install.
# Node may already come with its own npm (NodeSource's nodejs); Debian's otherwise.
if ! command -v npm >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
JS="$(dirname "$0")/../tests/js"
if [ ! -f "$JS/node_modules/.package-lock.json" ] || [ "$JS/package-lock.json" -nt "$JS/node_modules/.package-lock.json" ]; then
    echo "deps: npm ci in tests/js"
    (cd "$JS" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

#!/bin/sh
# Installs every Debian package berth needs to build, run, test and benchmark.
# Idempotent: packages already present are not fetched again, and apt-get update
# runs only when something is missing.
set -eu
PKGS="build-essential pkg-config clang libclang-rt-14-dev
libmicrohttpd-dev libjansson-dev libsqlite3-dev libssl-dev libarchive-dev libcurl4-openssl-dev libcmocka-dev
python3 python3-pytest python3-boto3 python3-requests python3-prometheus-client
skopeo podman buildah curl uidmap openssl jq strace
docker-registry apache2-utils wrk"
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

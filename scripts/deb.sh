#!/bin/sh
# Builds the Debian package: build/berth_<version>_<arch>.deb, version from
# BERTH_VERSION in src/main.c. The tree is copied to build/deb/berth-<version>/
# with a debian/changelog written for that version, built there with
# dpkg-buildpackage (debhelper, debian/rules), and the .deb checked by lintian,
# which must report no error. Run by `make deb` after `scripts/deps.sh deb`.
set -eu
cd "$(dirname "$0")/.."
version="$(sed -n 's/^#define BERTH_VERSION "\(.*\)"$/\1/p' src/main.c)"
[ -n "$version" ] || { echo "deb: no BERTH_VERSION in src/main.c" >&2; exit 1; }
arch="$(dpkg --print-architecture)"
stage="build/deb/berth-$version"
rm -rf build/deb
mkdir -p "$stage"
cp -r Makefile src docs debian "$stage/"
# The changelog's date: the last commit's, so that the same tree builds the same package.
when="$(git log -1 --format=%aD 2>/dev/null || date -R)"
cat > "$stage/debian/changelog" <<CHANGES
berth ($version) unstable; urgency=medium

  * berth $version.

 -- berth developers <berth@example.org>  $when
CHANGES
(cd "$stage" && dpkg-buildpackage -b -us -uc -j2 >../build.log 2>&1) || {
    tail -40 build/deb/build.log >&2
    echo "deb: dpkg-buildpackage failed; the whole log is build/deb/build.log" >&2
    exit 1
}
deb="build/deb/berth_${version}_${arch}.deb"
lintian --fail-on error --tag-display-limit 0 "$deb" || {
    echo "deb: lintian reports errors in $deb" >&2
    exit 1
}
cp "$deb" build/
echo "deb: build/berth_${version}_${arch}.deb"

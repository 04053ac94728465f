#!/bin/sh
# Writes berth(1) to standard output, made by help2man from `berth --help` and
# `berth --version`, with `berth serve --help` (every setting) and the files the
# package installs as sections of their own.
# usage: berth-man.sh path/to/berth
set -eu
bin="$1"
inc="$(mktemp)"
trap 'rm -f "$inc"' EXIT
{
    echo "[SERVE OPTIONS]"
    echo ".nf"
    "$bin" serve --help | sed -e 's/\\/\\e/g' -e 's/^\./\\\&./' -e "s/^'/\\\\\\&'/"
    echo ".fi"
    echo "[FILES]"
    echo ".TP"
    echo ".I /etc/berth/berth.conf"
    echo "the configuration the berth service reads (name = value lines)"
    echo ".TP"
    echo ".I /var/lib/berth"
    echo "data directory: database, blobs, keys; credentials holds the first root access key"
    echo ".TP"
    echo ".I /var/log/berth/berth.log"
    echo "the log, rotated by /etc/logrotate.d/berth"
    echo "[SEE ALSO]"
    echo "/usr/share/doc/berth/deployment.md, /usr/share/doc/berth/configuration.md,"
    echo "/usr/share/doc/berth/operations.md"
} > "$inc"
help2man --no-info --section=1 --name="self-hosted container registry with the Amazon ECR API" \
    --include="$inc" "$bin"

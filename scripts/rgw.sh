#!/bin/sh
# A throwaway single-node Ceph cluster with an S3 gateway, for tests and benchmarks.
#
#   scripts/rgw.sh start DIR   -> prints "endpoint=http://127.0.0.1:PORT access_key=... secret_key=... bucket=..."
#                                 (also written to DIR/env as shell assignments)
#   scripts/rgw.sh stop DIR    -> stops every daemon started in DIR and removes DIR
#   scripts/rgw.sh gateway DIR -> starts radosgw again (after it was killed) and waits for it
#
# One monitor, one memstore OSD (the objects live in the OSD's memory: nothing to
# format, nothing left on disk), cephx off, radosgw's beast frontend on a free
# loopback port, one S3 user and one bucket. No manager daemon: RGW does not need
# one. Everything runs as the calling user from DIR, with DIR/ceph.conf; nothing
# under /etc or /var is touched.
set -eu
cmd=${1:-}
DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|stop|gateway DIR" >&2; exit 2; }

free_port() {
    /usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'
}

stop() {
    for pidf in "$DIR"/run/*.pid; do
        [ -f "$pidf" ] || continue
        pid=$(cat "$pidf")
        kill "$pid" 2>/dev/null || true
    done
    # wait for them to go (memstore has nothing to flush)
    for pidf in "$DIR"/run/*.pid; do
        [ -f "$pidf" ] || continue
        pid=$(cat "$pidf")
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
        kill -9 "$pid" 2>/dev/null || true
    done
}

case "$cmd" in
stop)
    [ -d "$DIR" ] || exit 0
    stop
    rm -rf "$DIR"
    exit 0
    ;;
gateway)
    DIR=$(cd "$DIR" && pwd)
    radosgw -c "$DIR/ceph.conf" -n client.rgw
    . "$DIR/env"
    i=0
    until curl -sf -o /dev/null "$RGW_ENDPOINT/"; do
        i=$((i + 1)); [ $i -lt 600 ] || { echo "rgw.sh: radosgw did not answer" >&2; exit 1; }
        sleep 0.1
    done
    exit 0
    ;;
start) ;;
*) echo "usage: $0 start|stop|gateway DIR" >&2; exit 2 ;;
esac

mkdir -p "$DIR/run" "$DIR/log" "$DIR/mon" "$DIR/osd/ceph-0"
DIR=$(cd "$DIR" && pwd)
MON_PORT=$(free_port)
RGW_PORT=$(free_port)
FSID=$(cat /proc/sys/kernel/random/uuid)
CONF="$DIR/ceph.conf"
cat >"$CONF" <<EOF
[global]
fsid = $FSID
mon host = v2:127.0.0.1:$MON_PORT
mon initial members = a
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms bind ipv6 = false
ms bind msgr1 = false
# with authentication off the messenger cannot do its secure mode
ms mon client mode = crc
ms client mode = crc
run dir = $DIR/run
pid file = $DIR/run/\$name.pid
admin socket = $DIR/run/\$name.asok
log file = $DIR/log/\$name.log
mon data = $DIR/mon/\$cluster-\$id
osd data = $DIR/osd/\$cluster-\$id
osd objectstore = memstore
memstore device bytes = 4294967296
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
mon allow pool size one = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
osd crush chooseleaf type = 0
osd max object name len = 460
osd max object namespace len = 64
mon data avail warn = 1
mon data avail crit = 0

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:$RGW_PORT
rgw dns name = 127.0.0.1
rgw thread pool size = 64
rgw enable usage log = false
rgw keystone accepted roles =
EOF

export CEPH_CONF="$CONF"
monmaptool --create --fsid "$FSID" --addv a "[v2:127.0.0.1:$MON_PORT]" "$DIR/monmap" >/dev/null
ceph-authtool --create-keyring "$DIR/mon.keyring" --gen-key -n mon. >/dev/null
ceph-mon -c "$CONF" --mkfs -i a --monmap "$DIR/monmap" --keyring "$DIR/mon.keyring" >/dev/null 2>&1
ceph-mon -c "$CONF" -i a
OSD=$(ceph -c "$CONF" --connect-timeout 20 osd create)
ceph-osd -c "$CONF" -i "$OSD" --mkfs >/dev/null 2>&1
ceph-osd -c "$CONF" -i "$OSD" 2>/dev/null
# the OSD places itself in the CRUSH map when it starts; wait until it is up
i=0
until ceph -c "$CONF" osd stat 2>/dev/null | grep -q "1 up"; do
    i=$((i + 1)); [ $i -lt 300 ] || { echo "rgw.sh: the OSD did not come up" >&2; exit 1; }
    sleep 0.1
done
radosgw -c "$CONF" -n client.rgw
ACCESS=berth$(head -c 6 /dev/urandom | od -An -tx1 | tr -d ' \n')
SECRET=$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')
BUCKET=berth-blobs
radosgw-admin -c "$CONF" user create --uid=berth --display-name=berth \
    --access-key="$ACCESS" --secret-key="$SECRET" >/dev/null 2>&1
i=0
until curl -sf -o /dev/null "http://127.0.0.1:$RGW_PORT/"; do
    i=$((i + 1)); [ $i -lt 600 ] || { echo "rgw.sh: radosgw did not answer" >&2; exit 1; }
    sleep 0.1
done
RGW_ENDPOINT="http://127.0.0.1:$RGW_PORT" RGW_ACCESS_KEY="$ACCESS" RGW_SECRET_KEY="$SECRET" RGW_BUCKET="$BUCKET" /usr/bin/python3 -c '
import os, boto3
s3 = boto3.client("s3", endpoint_url=os.environ["RGW_ENDPOINT"], region_name="us-east-1",
                  aws_access_key_id=os.environ["RGW_ACCESS_KEY"], aws_secret_access_key=os.environ["RGW_SECRET_KEY"])
s3.create_bucket(Bucket=os.environ["RGW_BUCKET"])'
cat >"$DIR/env" <<EOF
RGW_ENDPOINT=http://127.0.0.1:$RGW_PORT
RGW_ACCESS_KEY=$ACCESS
RGW_SECRET_KEY=$SECRET
RGW_BUCKET=$BUCKET
EOF
echo "endpoint=http://127.0.0.1:$RGW_PORT access_key=$ACCESS secret_key=$SECRET bucket=$BUCKET"

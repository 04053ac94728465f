#!/usr/bin/env bash
# berth vs CNCF Distribution (Debian's docker-registry), on loopback. See bench/README.md.
#
#   bash bench/run.sh                      full run (1 GiB blobs, 10 s wrk runs)
#   BENCH_SIZE_MB=64 BENCH_QUICK=1 bash bench/run.sh   quick run
#
# Options (environment):
#   BENCH_SIZE_MB      blob size in MiB for (a)/(b)/(e)             default 1024
#   BENCH_QUICK=1      short wrk runs (3 s), fewer repetitions       default 0
#   BENCH_REPS         repetitions for upload/download (best of)     default 3 (2 when quick)
#   BENCH_LAYERS       layers in the skopeo image                    default 8
#   BENCH_LAYER_MB     MiB per layer                                 default 24
#   BENCH_WRK_SECONDS  wrk duration per run                          default 10 (3 when quick)
#   BENCH_DIR          parent of the temp dir (both servers' data)   default /tmp
#   BENCH_ONLY         "berth" or "distribution" to run one side     default both
#   BENCH_PUTS         manifest PUTs per run of (f)                  default 400
#   BENCH_DEADLINE     hard limit for the whole run, seconds         default 900
#   BERTH_BIN          berth binary                                  default build/berth
#   DIST_BIN           Distribution binary                           default /usr/bin/docker-registry
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(dirname "$HERE")
PY=/usr/bin/python3
LIB="$HERE/benchlib.py"

SIZE_MB=${BENCH_SIZE_MB:-1024}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then REPS=${BENCH_REPS:-2}; WRK_SECONDS=${BENCH_WRK_SECONDS:-3}
else REPS=${BENCH_REPS:-3}; WRK_SECONDS=${BENCH_WRK_SECONDS:-10}; fi
PULL_REPS=2
LAYERS=${BENCH_LAYERS:-8}
LAYER_MB=${BENCH_LAYER_MB:-24}
WRK_CONN=64
WRK_THREADS=2
PUTS=${BENCH_PUTS:-400}
PUT_CLIENTS=8
ONLY=${BENCH_ONLY:-}
DEADLINE=${BENCH_DEADLINE:-900}
BERTH_BIN=${BERTH_BIN:-$ROOT/build/berth}
DIST_BIN=${DIST_BIN:-/usr/bin/docker-registry}
SMALL_MB=$((SIZE_MB / 4)); [ "$SMALL_MB" -ge 1 ] || SMALL_MB=1
OCI_ACCEPT="application/vnd.oci.image.manifest.v1+json"

# Loopback only: no proxies, no AWS profile, no instance metadata, no user auth files.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
export LC_ALL=C
export AWS_EC2_METADATA_DISABLED=true AWS_DEFAULT_REGION=us-east-1 AWS_PAGER=""

for tool in curl skopeo wrk openssl htpasswd dd "$PY" "$DIST_BIN"; do
    command -v "$tool" >/dev/null || { echo "bench: missing $tool (run: make deps)" >&2; exit 1; }
done

mkdir -p "${BENCH_DIR:-/tmp}"
WORK=$(mktemp -d "${BENCH_DIR:-/tmp}/berth-bench.XXXXXX") || exit 1
RES="$WORK/results.env"
: >"$RES"
# skopeo: never read ~/.docker or auth.json. Not exported: Distribution reads REGISTRY_* as config.
SKOPEO_AUTH_FILE="$WORK/no-auth.json"
export AWS_CONFIG_FILE="$WORK/aws-config" AWS_SHARED_CREDENTIALS_FILE="$WORK/aws-credentials"

declare -A PID PORT URL CRED LOGF KIND
SERVERS=()
WATCHDOG=

cleanup() {
    local s
    trap - EXIT INT TERM
    for s in "${SERVERS[@]}"; do stop_server "$s"; done
    [ -n "$WATCHDOG" ] && kill "$WATCHDOG" 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT
trap 'echo "bench: interrupted" >&2; exit 130' INT TERM

# Hard deadline for the whole run: every step below is also bounded by `timeout`.
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$DEADLINE" & sp=$!
    wait "$sp" && { echo "bench: deadline of ${DEADLINE}s reached, stopping" >&2; kill -TERM $$; }
) 2>/dev/null &
WATCHDOG=$!

say() { printf '%s\n' "$*"; }
note() { printf '  %s\n' "$*"; }
put() { printf '%s=%s\n' "$1" "$2" >>"$RES"; }
warn() { printf '  !! %s: %s\n' "$1" "$2" >&2; put "$1.note" "$2"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN{printf "%.3f", b-a}'; }
kb_to_mb() { awk -v k="$1" 'BEGIN{ if (k=="") print ""; else printf "%.1f", k/1024 }'; }
max_of() { printf '%s\n' "$@" | awk 'NF{ if (m=="" || $1+0>m+0) m=$1 } END{print m}'; }
min_of() { printf '%s\n' "$@" | awk 'NF{ if (m=="" || $1+0<m+0) m=$1 } END{print m}'; }
want() { [ -z "$ONLY" ] || [ "$ONLY" = "$1" ]; }
sha256_file() { openssl dgst -sha256 -r "$1" | awk '{print "sha256:" $1}'; }
proc_kb() { awk -v f="$2:" '$1==f{print $2}' "/proc/$1/status" 2>/dev/null; }
alive() { [ -n "${PID[$1]:-}" ] && kill -0 "${PID[$1]}" 2>/dev/null; }
curl_auth() { [ -n "${CRED[$1]:-}" ] && printf '%s\n' -u "${CRED[$1]}"; }

# ------------------------------------------------------------------ credentials
ACCOUNT_ID=123456789012
ROOT_AK="AKIABENCH$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)"
ROOT_SK=$(od -An -N30 -tx1 /dev/urandom | tr -d ' \n')
DIST_USER=bench
DIST_PASS=$(od -An -N12 -tx1 /dev/urandom | tr -d ' \n')

berth_aws() {   # aws CLI as berth's root user against server $1; remaining args passed on
    local s=$1; shift
    AWS_ACCESS_KEY_ID="$ROOT_AK" AWS_SECRET_ACCESS_KEY="$ROOT_SK" \
        timeout 30 aws --endpoint-url "${URL[$s]}" --cli-read-timeout 20 --cli-connect-timeout 5 "$@"
}

# The one place that knows how to log in to berth's /v2: prints "user:password".
# Preferred: ECR-style token (user AWS); fallback: root access key id / secret.
berth_credentials() {
    local s=$1 pw code
    if pw=$(berth_aws "$s" ecr get-login-password 2>/dev/null) && [ -n "$pw" ]; then
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 -u "AWS:$pw" "${URL[$s]}/v2/")
        if [ "$code" = 200 ]; then printf 'AWS:%s\n' "$pw"; return; fi
    fi
    printf '%s:%s\n' "$ROOT_AK" "$ROOT_SK"
}

# Repositories must exist before a push on ECR; a registry that creates them on push
# (or has no control plane) simply makes this a no-op.
ensure_repo() {
    local s=$1 repo=$2
    [ "${KIND[$s]}" = berth ] || return 0
    berth_aws "$s" ecr create-repository --repository-name "$repo" >/dev/null 2>&1 || true
}

# ------------------------------------------------------------------ servers
wait_ready() {   # until /v2/ answers 200 or 401
    local s=$1 i code
    for i in $(seq 1 100); do
        alive "$s" || return 1
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "${URL[$s]}/v2/")
        case $code in 200|401) return 0 ;; esac
        sleep 0.1
    done
    return 1
}

start_distribution() {   # name auth(on|off)
    local s=$1 auth=$2 dir="$WORK/$1"
    mkdir -p "$dir/data"
    PORT[$s]=$("$PY" "$LIB" freeport); URL[$s]="http://127.0.0.1:${PORT[$s]}"; KIND[$s]=dist
    cat >"$dir/config.yml" <<EOF
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $dir/data
  delete:
    enabled: true
  cache:
    blobdescriptor: inmemory
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: 127.0.0.1:${PORT[$s]}
  secret: berth-bench-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
health:
  storagedriver:
    enabled: false
EOF
    CRED[$s]=
    if [ "$auth" = on ]; then
        htpasswd -Bbc "$dir/htpasswd" "$DIST_USER" "$DIST_PASS" 2>/dev/null
        cat >>"$dir/config.yml" <<EOF
auth:
  htpasswd:
    realm: berth-bench
    path: $dir/htpasswd
EOF
        CRED[$s]="$DIST_USER:$DIST_PASS"
    fi
    LOGF[$s]="$dir/server.log"
    env $(env | awk -F= '/^REGISTRY_/{print "-u " $1}') "$DIST_BIN" serve "$dir/config.yml" >"${LOGF[$s]}" 2>&1 &
    PID[$s]=$!; SERVERS+=("$s")
    wait_ready "$s" || { echo "bench: $s did not start:" >&2; tail -20 "${LOGF[$s]}" >&2; stop_server "$s"; return 1; }
}

start_berth() {   # name auth(on|off)
    local s=$1 auth=$2 dir="$WORK/$1" extra=()
    mkdir -p "$dir/data"
    PORT[$s]=$("$PY" "$LIB" freeport); URL[$s]="http://127.0.0.1:${PORT[$s]}"; KIND[$s]=berth
    local authenv=(-u BERTH_AUTH)
    [ "$auth" = off ] && { extra=(--auth none); authenv=(BERTH_AUTH=none); }
    LOGF[$s]="$dir/server.log"
    env "${authenv[@]}" BERTH_LOG_LEVEL=error BERTH_ACCOUNT_ID=$ACCOUNT_ID BERTH_ROOT_ACCESS_KEY_ID=$ROOT_AK BERTH_ROOT_SECRET_ACCESS_KEY=$ROOT_SK \
        "$BERTH_BIN" serve --listen "127.0.0.1:${PORT[$s]}" --data "$dir/data" "${extra[@]}" \
        >"${LOGF[$s]}" 2>&1 &
    PID[$s]=$!; SERVERS+=("$s")
    wait_ready "$s" || { echo "bench: $s did not start:" >&2; tail -20 "${LOGF[$s]}" >&2; stop_server "$s"; return 1; }
    CRED[$s]=
    [ "$auth" = on ] && CRED[$s]=$(berth_credentials "$s")
    return 0
}

stop_server() {
    local s=$1 p=${PID[$1]:-} i
    [ -n "$p" ] || return 0
    kill -TERM "$p" 2>/dev/null
    for i in $(seq 1 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    PID[$s]=
}

rss_mb() { kb_to_mb "$(proc_kb "${PID[$1]}" VmRSS)"; }
hwm_mb() { kb_to_mb "$(proc_kb "${PID[$1]}" VmHWM)"; }

# ------------------------------------------------------------------ measurements
# (a) monolithic upload: POST to open an upload session, then one PUT ?digest= with the body.
# Prints MB/s on success. Same requests for both servers.
upload_blob() {   # server repo file digest
    local s=$1 repo=$2 file=$3 digest=$4 size loc out code t
    size=$(stat -c %s "$file")
    loc=$(curl -sS $(curl_auth "$s") --max-time 30 -X POST -H 'Content-Length: 0' -o /dev/null -D - \
              "${URL[$s]}/v2/$repo/blobs/uploads/" | tr -d '\r' | awk 'tolower($1)=="location:"{print $2}')
    if [ -z "$loc" ]; then echo "POST /v2/$repo/blobs/uploads/ returned no Location" >&2; return 1; fi
    case $loc in http://*|https://*) ;; /*) loc="${URL[$s]}$loc" ;; *) loc="${URL[$s]}/v2/$repo/blobs/uploads/$loc" ;; esac
    case $loc in *\?*) loc="$loc&digest=$digest" ;; *) loc="$loc?digest=$digest" ;; esac
    out=$(curl -sS $(curl_auth "$s") --max-time 600 -H 'Expect:' -H 'Content-Type: application/octet-stream' \
              -T "$file" -o "$WORK/put.body" -w '%{http_code} %{time_total}' "$loc") || return 1
    read -r code t <<<"$out"
    if [ "$code" != 201 ]; then
        echo "PUT upload ?digest= -> $code: $(head -c 300 "$WORK/put.body")" >&2; return 1
    fi
    "$PY" "$LIB" mbps "$size" "$t"
}

# A timed GET to /dev/null; prints MB/s if status 200 and the size matches.
timed_get() {   # url size [curl options...]
    local url=$1 size=$2 out code t n
    shift 2
    out=$(curl -sS -L "$@" --max-time 600 -o /dev/null -w '%{http_code} %{time_total} %{size_download}' "$url") || return 1
    read -r code t n <<<"$out"
    if [ "$code" != 200 ] || [ "$n" != "$size" ]; then
        echo "GET $url -> $code, $n bytes (expected 200, $size bytes)" >&2; return 1
    fi
    "$PY" "$LIB" mbps "$size" "$t"
}

# (b) download to /dev/null
download_blob() {   # server repo digest size
    timed_get "${URL[$1]}/v2/$2/blobs/$3" "$4" $(curl_auth "$1")
}

verify_blob() {   # server repo digest: untimed full read, checks the content digest
    local s=$1 repo=$2 digest=$3 got
    got=$(curl -sS -L $(curl_auth "$s") --max-time 600 "${URL[$s]}/v2/$repo/blobs/$digest" | openssl dgst -sha256 -r | awk '{print "sha256:" $1}')
    [ "$got" = "$digest" ] || { echo "GET blob: content digest $got, expected $digest" >&2; return 1; }
}

skopeo_creds() {   # server src|dest
    [ -n "${CRED[$1]:-}" ] && printf -- '--%s-creds\n%s\n' "$2" "${CRED[$1]}"
}

skopeo_push() {   # server -> prints wall seconds
    local s=$1 t0 t1 args=()
    mapfile -t args < <(skopeo_creds "$s" dest)
    t0=$(now)
    REGISTRY_AUTH_FILE=$SKOPEO_AUTH_FILE timeout 300 skopeo --insecure-policy copy --quiet --retry-times 0 --dest-tls-verify=false "${args[@]}" \
        "oci:$WORK/oci:bench" "docker://127.0.0.1:${PORT[$s]}/bench/image:v1" >"$WORK/skopeo.log" 2>&1 \
        || { tail -5 "$WORK/skopeo.log" >&2; return 1; }
    t1=$(now); elapsed "$t0" "$t1"
}

skopeo_pull() {   # server -> prints wall seconds
    local s=$1 t0 t1 args=() dst="$WORK/pull"
    mapfile -t args < <(skopeo_creds "$s" src)
    rm -rf "$dst"
    t0=$(now)
    REGISTRY_AUTH_FILE=$SKOPEO_AUTH_FILE timeout 300 skopeo --insecure-policy copy --quiet --retry-times 0 --src-tls-verify=false "${args[@]}" \
        "docker://127.0.0.1:${PORT[$s]}/bench/image:v1" "dir:$dst" >"$WORK/skopeo.log" 2>&1 \
        || { tail -5 "$WORK/skopeo.log" >&2; return 1; }
    t1=$(now)
    local n; n=$(du -sm "$dst" | awk '{print $1}'); rm -rf "$dst"
    if [ "$n" -lt $((LAYERS * LAYER_MB)) ]; then echo "skopeo pull: only $n MiB arrived" >&2; return 1; fi
    elapsed "$t0" "$t1"
}

# (d) wrk against GET /v2/bench/tiny/manifests/latest; puts <prefix>_rps, <prefix>_p99_ms.
run_wrk() {   # server key-prefix
    local s=$1 k=$2 basic="" out="$WORK/wrk.out" bad
    [ -n "${CRED[$s]:-}" ] && basic=$(printf '%s' "${CRED[$s]}" | base64 -w0)
    rm -f "$out"
    BENCH_BASIC=$basic BENCH_ACCEPT=$OCI_ACCEPT BENCH_WRK_OUT=$out \
        timeout $((WRK_SECONDS + 30)) wrk -t"$WRK_THREADS" -c"$WRK_CONN" -d"${WRK_SECONDS}s" --timeout 10s --latency \
        -s "$HERE/manifest.lua" "${URL[$s]}/v2/bench/tiny/manifests/latest" >"$WORK/wrk.txt" 2>&1
    if [ ! -s "$out" ]; then cat "$WORK/wrk.txt" >&2; return 1; fi
    # shellcheck disable=SC1090
    local requests rps p50_ms p99_ms bad_status sock_errors duration_us
    . "$out"
    note "$s: $rps req/s, p50 $p50_ms ms, p99 $p99_ms ms ($requests requests, $bad_status bad status, $sock_errors socket errors)"
    bad=$((bad_status))
    if [ "$bad" -gt 0 ] || [ "$requests" -eq 0 ]; then
        warn "$(prefix_of "$s").$k" "$bad_status of $requests manifest GETs failed; req/s not counted"
        return 1
    fi
    [ "$sock_errors" -gt 0 ] && warn "$(prefix_of "$s").$k" "wrk saw $sock_errors socket errors/timeouts (10 s timeout)"
    put "$(prefix_of "$s").${k}_rps" "$rps"
    put "$(prefix_of "$s").${k}_p99_ms" "$p99_ms"
}

prefix_of() { case ${KIND[$1]} in berth) echo berth ;; *) echo dist ;; esac; }

wrk_target() {   # server: push the tiny image and check one GET
    local s=$1 d
    ensure_repo "$s" bench/tiny
    d=$("$PY" "$LIB" tiny "${URL[$s]}" bench/tiny latest "${CRED[$s]:-}" 2>"$WORK/tiny.err") \
        || { cat "$WORK/tiny.err" >&2; return 1; }
    note "$s: bench/tiny:latest = $d"
}

# ================================================================== the run
T_START=$(now)
say "berth bench: blobs ${SIZE_MB} MiB (small ${SMALL_MB} MiB), best of ${REPS}; image ${LAYERS}×${LAYER_MB} MiB; wrk ${WRK_SECONDS}s -c${WRK_CONN}; dir $WORK"

BERTH_OK=1
if want berth; then
    if [ ! -x "$BERTH_BIN" ]; then echo "bench: $BERTH_BIN not built; berth columns will be n/a" >&2; BERTH_OK=0; fi
else BERTH_OK=0; fi
DIST_OK=1; want distribution || DIST_OK=0

put size_mb "$SIZE_MB"; put small_mb "$SMALL_MB"; put reps "$REPS"; put pull_reps "$PULL_REPS"
put layers "$LAYERS"; put layer_mb "$LAYER_MB"; put wrk_conn "$WRK_CONN"; put put_clients "$PUT_CLIENTS"; put quick "$QUICK"; put dd_mb "$SIZE_MB"
put date "$(date -u +%Y-%m-%dT%H:%MZ)"
put cpus "$(nproc)"
put loadavg "$(cut -d' ' -f1-3 /proc/loadavg)"
put cpu "$(awk -F': ' '/^model name/{print $2; exit}' /proc/cpuinfo)"
put mem_mb "$(awk '/^MemTotal/{printf "%d", $2/1024}' /proc/meminfo)"
put fs "$(df -T "$WORK" | awk 'NR==2{print $2}')"
put dist_version "Distribution $("$DIST_BIN" --version 2>/dev/null | awk '{print $3}')"
if [ "$BERTH_OK" = 1 ]; then
    put berth_version "$(timeout 5 "$BERTH_BIN" version 2>/dev/null | head -1 | sed "s/^berth //" | tr -d '\n' || true) ($(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null))"
else put berth_version "(not run)"; fi

# ---- machine: SHA-256 and disk
say "== machine"
SHA_MBPS=$(timeout 30 openssl speed -evp sha256 -bytes 1048576 -seconds 3 2>/dev/null | awk '$1=="sha256"{v=$2; sub(/k$/,"",v); printf "%.0f", v*1000/1e6}')
note "SHA-256: ${SHA_MBPS:-?} MB/s"; put machine.sha256_mbps "$SHA_MBPS"
DISK_RUNS=()
for i in 1 2; do   # best of 2: the disk is shared with whatever else runs on the machine
    DD_OUT=$(timeout 120 dd if=/dev/zero of="$WORK/dd.tmp" bs=1M count="$SIZE_MB" conv=fdatasync 2>&1 | tail -1)
    rm -f "$WORK/dd.tmp"
    v=$(awk -v b="$(awk '{print $1}' <<<"$DD_OUT")" -v l="$DD_OUT" 'BEGIN{ n=split(l,a,", "); split(a[3],t," "); if (t[1]>0) printf "%.0f", b/t[1]/1e6 }')
    note "disk write run $i (dd ${SIZE_MB} MiB, conv=fdatasync): ${v:-?} MB/s"
    DISK_RUNS+=("$v")
done
DISK_MBPS=$(max_of "${DISK_RUNS[@]}")
put machine.disk_mbps "$DISK_MBPS"

# ---- test data
say "== test data"
t0=$(now)
BLOB="$WORK/blob.bin"; SMALL="$WORK/small.bin"
head -c $((SIZE_MB * 1048576)) /dev/urandom >"$BLOB"
head -c $((SMALL_MB * 1048576)) "$BLOB" >"$SMALL"
printf 'small' | dd of="$SMALL" conv=notrunc status=none   # distinct from the big blob's prefix
SMALL_DIGEST=$(sha256_file "$SMALL")
timeout 120 "$PY" "$LIB" oci "$WORK/oci" "$LAYERS" "$LAYER_MB" >/dev/null || { echo "bench: OCI layout failed" >&2; exit 1; }
note "random ${SIZE_MB} MiB blob, ${SMALL_MB} MiB blob, OCI layout ${LAYERS}×${LAYER_MB} MiB in $(elapsed "$t0" "$(now)") s"

# ---- phase 1: both servers with authentication on
say "== phase 1: authentication on (berth: $( [ "$BERTH_OK" = 1 ] && echo token/keys || echo skipped ); distribution: htpasswd bcrypt)"
S1=()
if [ "$DIST_OK" = 1 ]; then start_distribution dist-auth on && S1+=(dist-auth) || warn dist.start "Distribution (auth on) did not start"; fi
if [ "$BERTH_OK" = 1 ]; then
    if start_berth berth-auth on; then
        S1+=(berth-auth)
        note "berth-auth: /v2 credentials user '${CRED[berth-auth]%%:*}'"
        for r in bench/blob bench/image bench/tiny; do ensure_repo berth-auth "$r"; done
    else warn berth.start "berth (auth on) did not start; see bench output"; fi
fi

for s in "${S1[@]}"; do put "$(prefix_of "$s").rss_idle_mb" "$(rss_mb "$s")"; done

say "-- (e) ${SMALL_MB} MiB upload, RSS"
for s in "${S1[@]}"; do
    if v=$(upload_blob "$s" bench/blob "$SMALL" "$SMALL_DIGEST"); then
        note "$s: ${SMALL_MB} MiB upload $v MB/s, RSS $(rss_mb "$s") MiB"
        put "$(prefix_of "$s").rss_small_mb" "$(rss_mb "$s")"
    else warn "$(prefix_of "$s").small_upload" "${SMALL_MB} MiB upload failed"; fi
done

say "-- (a) ${SIZE_MB} MiB monolithic upload (POST, then PUT ?digest= with curl -T), best of $REPS"
declare -A UP
BIG_DIGEST=
for i in $(seq 1 "$REPS"); do
    # a fresh blob per repetition (first 16 bytes rewritten) so no server can skip work for a known digest
    [ "$i" -gt 1 ] && head -c 16 /dev/urandom | dd of="$BLOB" conv=notrunc status=none
    digest=$(sha256_file "$BLOB")
    order=("${S1[@]}"); [ $((i % 2)) -eq 0 ] && order=($(printf '%s\n' "${S1[@]}" | tac))
    for s in "${order[@]}"; do
        if v=$(upload_blob "$s" bench/blob "$BLOB" "$digest"); then
            note "$s: run $i: $v MB/s"; UP[$s]="${UP[$s]:-} $v"; eval "LAST_OK_${s//-/_}=$digest"
        else warn "$(prefix_of "$s").upload" "${SIZE_MB} MiB upload failed (run $i)"; fi
    done
    BIG_DIGEST=$digest
done
for s in "${S1[@]}"; do
    put "$(prefix_of "$s").upload_mbps" "$(max_of ${UP[$s]:-})"
    put "$(prefix_of "$s").rss_big_mb" "$(rss_mb "$s")"
    note "$s: RSS after ${SIZE_MB} MiB uploads: $(rss_mb "$s") MiB"
done

say "-- (b) ${SIZE_MB} MiB download to /dev/null, best of $REPS"
for s in "${S1[@]}"; do
    var="LAST_OK_${s//-/_}"; digest=${!var:-}
    [ -n "$digest" ] || { warn "$(prefix_of "$s").download" "no uploaded blob to download"; continue; }
    verify_blob "$s" bench/blob "$digest" || { warn "$(prefix_of "$s").download" "downloaded content does not match its digest"; continue; }
    vals=()
    for i in $(seq 1 "$REPS"); do
        if v=$(download_blob "$s" bench/blob "$digest" $((SIZE_MB * 1048576))); then note "$s: run $i: $v MB/s"; vals+=("$v")
        else warn "$(prefix_of "$s").download" "download failed (run $i)"; fi
    done
    put "$(prefix_of "$s").download_mbps" "$(max_of "${vals[@]}")"
done

# The machine's limit for serving a file over the loopback: nginx serving berth's stored copy of
# the same blob, with sendfile and by copying (read + write), best of $REPS each.
nginx_download() {   # file sendfile(on|off) -> prints MB/s, best of $REPS
    local file=$1 sf=$2 dir="$WORK/nginx-$2" port pid i v vals=()
    mkdir -p "$dir/root" && ln -sf "$file" "$dir/root/blob" || return 1
    port=$("$PY" "$LIB" freeport)
    {
        [ "$(id -u)" = 0 ] && echo "user root;"   # berth's data directory is the caller's alone
        echo "daemon off; worker_processes 1; pid $dir/nginx.pid; error_log $dir/error.log;"
        echo "events {}"
        echo "http { access_log off; sendfile $sf; client_body_temp_path $dir; proxy_temp_path $dir;"
        echo "  fastcgi_temp_path $dir; uwsgi_temp_path $dir; scgi_temp_path $dir;"
        echo "  server { listen 127.0.0.1:$port; root $dir/root; } }"
    } >"$dir/nginx.conf"
    nginx -c "$dir/nginx.conf" -e "$dir/error.log" 2>>"$dir/error.log" &
    pid=$!
    for i in $(seq 1 50); do curl -s -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.1; done
    for i in $(seq 1 "$REPS"); do
        v=$(timed_get "http://127.0.0.1:$port/blob" "$(stat -L -c %s "$file")") && vals+=("$v")
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    [ ${#vals[@]} -gt 0 ] && max_of "${vals[@]}"
}
BERTH_BLOB_FILE=
if [ -n "${LAST_OK_berth_auth:-}" ]; then
    hex=${LAST_OK_berth_auth#sha256:}
    BERTH_BLOB_FILE="$WORK/berth-auth/data/blobs/sha256/${hex:0:2}/$hex"
fi
if ! command -v nginx >/dev/null; then warn machine.nginx "nginx is not installed (scripts/deps.sh installs it)"
elif [ ! -f "$BERTH_BLOB_FILE" ]; then warn machine.nginx "no blob file of berth's to serve"
else
    for sf in on off; do
        if v=$(nginx_download "$BERTH_BLOB_FILE" $sf); then note "nginx, sendfile $sf: $v MB/s"; put "machine.nginx_sendfile_${sf}_mbps" "$v"
        else warn machine.nginx "nginx with sendfile $sf did not serve the blob (see $WORK/nginx-$sf/error.log)"; fi
    done
fi

say "-- (c) skopeo push / pull of ${LAYERS}×${LAYER_MB} MiB image"
for s in "${S1[@]}"; do
    if v=$(skopeo_push "$s"); then
        note "$s: push $v s"; put "$(prefix_of "$s").skopeo_push_s" "$v"
        vals=()
        for i in $(seq 1 "$PULL_REPS"); do
            if v=$(skopeo_pull "$s"); then note "$s: pull run $i: $v s"; vals+=("$v")
            else warn "$(prefix_of "$s").skopeo_pull" "skopeo pull failed"; fi
        done
        put "$(prefix_of "$s").skopeo_pull_s" "$(min_of "${vals[@]}")"
    else warn "$(prefix_of "$s").skopeo_push" "skopeo push failed"; fi
done

say "-- (d) manifest GET, auth on: wrk -t$WRK_THREADS -c$WRK_CONN -d${WRK_SECONDS}s"
for s in "${S1[@]}"; do
    wrk_target "$s" && run_wrk "$s" wrk_auth || warn "$(prefix_of "$s").wrk_auth" "manifest benchmark (auth on) failed"
done

say "-- (g) manifest GET while a ${SIZE_MB} MiB blob is uploaded and committed: wrk -t$WRK_THREADS -c$WRK_CONN -d${WRK_SECONDS}s"
# The same wrk run as (d), with a fresh big blob uploaded (monolithic PUT) 1 s into it: a
# server whose HTTP threads wait on the upload's hashing, fsync or rename stalls the GETs
# they also serve. Compared with (d)'s idle p99.
BLOB_G="$WORK/blob-g.bin"
for s in "${S1[@]}"; do
    [ -f "$BLOB" ] || break
    cp "$BLOB" "$BLOB_G" && head -c 16 /dev/urandom | dd of="$BLOB_G" conv=notrunc status=none
    digest=$(sha256_file "$BLOB_G")
    ( sleep 1; upload_blob "$s" bench/blob "$BLOB_G" "$digest" >"$WORK/g-upload.out" 2>&1 ) &
    up=$!
    run_wrk "$s" wrk_commit || warn "$(prefix_of "$s").wrk_commit" "manifest benchmark during a commit failed"
    if wait "$up"; then note "$s: the upload ran at $(cat "$WORK/g-upload.out") MB/s under wrk"
    else warn "$(prefix_of "$s").wrk_commit" "the upload during wrk failed: $(head -c 200 "$WORK/g-upload.out")"; fi
    rm -f "$BLOB_G"
done

say "-- (e) peak RSS"
for s in "${S1[@]}"; do
    alive "$s" || { warn "$(prefix_of "$s").alive" "server process died during phase 1"; continue; }
    note "$s: VmHWM $(hwm_mb "$s") MiB, VmRSS $(rss_mb "$s") MiB"
    put "$(prefix_of "$s").hwm_mb" "$(hwm_mb "$s")"
done
for s in "${S1[@]}"; do stop_server "$s"; rm -rf "${WORK:?}/$s/data"; done
rm -f "$BLOB" "$SMALL"

# ---- phase 2: authentication off
say "== phase 2: authentication off"
S2=()
if [ "$DIST_OK" = 1 ]; then start_distribution dist-noauth off && S2+=(dist-noauth) || warn dist.start2 "Distribution (auth off) did not start"; fi
if [ "$BERTH_OK" = 1 ]; then start_berth berth-noauth off && S2+=(berth-noauth) || warn berth.start2 "berth --auth none did not start"; fi
for s in "${S2[@]}"; do
    wrk_target "$s" && run_wrk "$s" wrk_noauth || warn "$(prefix_of "$s").wrk_noauth" "manifest benchmark (auth off) failed"
done

say "-- (f) manifest PUT: $PUTS distinct manifests, each a committed transaction; 1 client, then $PUT_CLIENTS"
for s in "${S2[@]}"; do
    for c in 1 "$PUT_CLIENTS"; do
        k=put1; [ "$c" = 1 ] || k=putn
        ensure_repo "$s" bench/puts
        if v=$(timeout 300 "$PY" "$LIB" puts "${URL[$s]}" bench/puts "$PUTS" "$c" "${CRED[$s]:-}" 2>"$WORK/puts.err"); then
            note "$s: $c client(s): $v req/s"; put "$(prefix_of "$s").${k}_rps" "$v"
        else cat "$WORK/puts.err" >&2; warn "$(prefix_of "$s").$k" "manifest PUTs failed ($c clients)"; fi
    done
done
for s in "${S2[@]}"; do stop_server "$s"; done

say "== done in $(elapsed "$T_START" "$(now)") s"
echo
"$PY" "$LIB" render "$RES" "$HERE/results.md"
echo "(written to bench/results.md)"

#!/bin/sh
# 3410-describe - cocodiff-describe end to end against a mock chat-completions
# server (tests/tools/mock-llm.c, built here into the temp folder) on
# 127.0.0.1 and a port the kernel picks: every class done; a complete file
# makes no request; --limit then resume; a killed run resumed (only the
# missing classes are requested, counted by the server); malformed rows redone;
# retries on 500/429/503, on malformed replies and on a timeout; 400 not
# retried; a class that always fails -> exit 1 with the others kept; API key
# handling; usage errors; Kinetics ids from 0; a run under mpirun.
# Every process is bounded by `timeout`.
. "$(dirname "$0")/tap/tap.sh"
BIN=$REPO/bin/cocodiff-describe
if [ ! -x "$BIN" ]; then echo "Bail out! $BIN not built (run make)"; exit 1; fi
plan 50
unset http_proxy HTTP_PROXY https_proxy HTTPS_PROXY all_proxy ALL_PROXY OPENAI_API_KEY MYKEY

CCM=$(command -v mpicc || command -v cc)
# shellcheck disable=SC2046
"$CCM" -std=c11 -D_GNU_SOURCE -O1 -o "$TMP/mock-llm" "$REPO/tests/tools/mock-llm.c" \
    $(pkg-config --cflags --libs jansson) 2>"$TMP/cc.err"
ok $? "mock-llm builds"
[ -x "$TMP/mock-llm" ] || { sed 's/^/# /' "$TMP/cc.err"; echo "Bail out! no mock server"; exit 1; }

# start_mock NAME ARGS...: a fresh mock in the background; sets EP, MOCK_PID;
# its request count is in $TMP/NAME.count and one line per request in NAME.log.
start_mock() {
    name=$1
    shift
    timeout 120 "$TMP/mock-llm" --port-file "$TMP/$name.port" --count-file "$TMP/$name.count" \
        --log "$TMP/$name.log" --idle 60 "$@" >/dev/null 2>"$TMP/$name.err" &
    MOCK_PID=$!
    i=0
    while [ ! -s "$TMP/$name.count" ] && [ $i -lt 200 ]; do sleep 0.05; i=$((i + 1)); done
    EP=http://127.0.0.1:$(cat "$TMP/$name.port" 2>/dev/null)/v1
}
stop_mock() { kill "$MOCK_PID" 2>/dev/null; wait "$MOCK_PID" 2>/dev/null; }
count() { cat "$TMP/$1.count" 2>/dev/null; }
# describe ARGS...: the program with a short backoff, output in $TMP/out, $TMP/err.
describe() {
    timeout 60 "$BIN" --backoff 0.05 "$@" >"$TMP/out" 2>"$TMP/err"
}
ids() { awk -F'\t' '!/^#/ && n++ { printf "%s ", $1 }' "$1"; }
well_formed() { # one '#' line, header + rows, 9 non-empty fields each
    head -1 "$1" | grep -q '^# Class descriptions for ntu.txt, written by a language model (gpt-4o-mini)' &&
    sed -n 2p "$1" | grep -q '^id	name	sentence	head	hand	arm	hip	leg	foot$' &&
        awk -F'\t' '/^#/ { next } NF != 9 { exit 1 } { for (i = 1; i <= 9; i++) if ($i == "") exit 1 }' "$1"
}
show() { sed 's/^/#   /' "$TMP/out" "$TMP/err" >&2; }
# check STATUS NAME: ok, and on failure the program's output as diagnostics.
check() { ok "$1" "$2"; [ "$1" -eq 0 ] || show; }

L=$TMP/ntu.txt
printf '%s\n' "drink water." "eat meal/snack." "brushing teeth." "brushing hair." "drop." \
    "touch other person's pocket." > "$L"
ALL="1 2 3 4 5 6 "

# --- everything done, then a complete file makes no request -------------------------
start_mock a --fences --dirty
describe --classes "$L" --out "$TMP/a.tsv" --endpoint "$EP"
check $? "all 6 classes described (exit 0)"
is "$ALL" "$(ids "$TMP/a.tsv")" "ids 1..6 in order"
well_formed "$TMP/a.tsv"; ok $? "header + 9 non-empty fields per row"
is "The head in brushing teeth." "$(awk -F'\t' '$1 == 3 { print $4 }' "$TMP/a.tsv")" \
    "fences stripped, tabs/newlines in fields made spaces"
is "touch other person's pocket" "$(awk -F'\t' '$1 == 6 { print $2 }' "$TMP/a.tsv")" \
    "name from the list without its period"
is 6 "$(count a)" "6 requests"
grep -q "class 6/6 | id 6 'touch other person's pocket' done" "$TMP/out" &&
    grep -q "classes/s | ETA" "$TMP/out"
check $? "progress lines: class i/N, rate, ETA"
cp "$TMP/a.tsv" "$TMP/a.ref"
describe --classes "$L" --out "$TMP/a.tsv" --endpoint "$EP"
ok $? "second run exits 0"
is 6 "$(count a)" "a complete file makes no request"
cmp -s "$TMP/a.tsv" "$TMP/a.ref"; ok $? "and leaves the file as it was"

# --- --limit, then extend --------------------------------------------------------
describe --classes "$L" --out "$TMP/b.tsv" --endpoint "$EP" --limit 2
check $? "--limit 2: exit 0"
is "1 2 " "$(ids "$TMP/b.tsv")" "--limit 2 wrote classes 1 and 2"
head -4 "$TMP/b.tsv" > "$TMP/b.first"
describe --classes "$L" --out "$TMP/b.tsv" --endpoint "$EP"
check $? "extending run: exit 0"
is 12 "$(count a)" "it requested only the 4 missing classes"
is "brushing teeth brushing hair drop touch other person's pocket " \
    "$(tail -4 "$TMP/a.log" | cut -f2 | tr '\n' ' ')" "server saw classes 3..6"
head -4 "$TMP/b.tsv" | cmp -s - "$TMP/b.first"; ok $? "the old rows are kept as they were"
stop_mock

# --- a run killed mid-way, then resumed ------------------------------------------
start_mock c --hang 3
timeout 60 "$BIN" --classes "$L" --out "$TMP/c.tsv" --endpoint "$EP" --timeout 50 \
    >"$TMP/c.out" 2>&1 &
CPID=$!
# Until rows 1 and 2 are in (4 lines), the client has ended, or 60 s (a loaded
# host: the 20 s this waited once ran out in CI, with no trace of why).
i=0
while [ "$(cat "$TMP/c.tsv" 2>/dev/null | wc -l)" -lt 4 ] && [ $i -lt 1200 ] &&
    kill -0 "$CPID" 2>/dev/null; do
    sleep 0.05; i=$((i + 1)); done
sleep 0.3   # the client now waits on the hung request 3
kill "$CPID" 2>/dev/null
wait "$CPID" 2>/dev/null
stop_mock
got=$(ids "$TMP/c.tsv")
is "1 2 " "$got" "killed while on class 3: rows 1 and 2 are in the file"
[ "$got" = "1 2 " ] ||
    { echo "# waited $((i / 20)) s; the killed client's output, then the server's log:";
      sed 's/^/#   /' "$TMP/c.out" "$TMP/c.log" "$TMP/c.err"; } >&2
head -4 "$TMP/c.tsv" > "$TMP/c.first"
start_mock c2
describe --classes "$L" --out "$TMP/c.tsv" --endpoint "$EP"
check $? "resumed run: exit 0"
is 4 "$(count c2)" "resume requested only the 4 missing classes"
is "$ALL" "$(ids "$TMP/c.tsv")" "file complete, in id order"
head -4 "$TMP/c.tsv" | cmp -s - "$TMP/c.first"; ok $? "rows from the killed run kept"

# --- malformed rows are reported and redone --------------------------------------
# row 2 with an empty hip, row 6 cut off in the middle (a kill during a write)
awk -F'\t' 'BEGIN { OFS = "\t" } NR == 4 { $7 = "" } NR <= 7 { print }' "$TMP/a.ref" > "$TMP/d.tsv"
printf '6\ttouch other person'"'"'s pocket\tA pers' >> "$TMP/d.tsv"
describe --classes "$L" --out "$TMP/d.tsv" --endpoint "$EP"
check $? "file with malformed rows: exit 0"
is 2 "$(count c2 | awk '{ print $1 - 4 }')" "only the 2 malformed classes requested"
grep -q "d.tsv:4: field 'hip' is empty" "$TMP/err" && grep -q "d.tsv:8: incomplete last line" "$TMP/err"
check $? "each malformed row reported with file and line"
cmp -s "$TMP/d.tsv" "$TMP/a.ref"; ok $? "result equals a clean run's file"
stop_mock

# --- retries ----------------------------------------------------------------------
printf '%s\n' "drink water" "drop" "kicking something" > "$TMP/three.txt"
start_mock e --status 500,429,503
describe --classes "$TMP/three.txt" --out "$TMP/e.tsv" --endpoint "$EP"
check $? "HTTP 500, 429, 503 then good: exit 0"
is 6 "$(count e)" "3 failed + 3 good requests"
grep -q "class 1 'drink water': attempt 3/5 failed: HTTP 503: mock failure; retrying in 0.2 s" "$TMP/err"
check $? "each retry logged with the class, the status and the growing wait"
stop_mock

start_mock f --malformed 4
describe --classes "$TMP/three.txt" --out "$TMP/f.tsv" --endpoint "$EP"
check $? "4 malformed replies then good: exit 0"
is 7 "$(count f)" "4 malformed + 3 good requests"
grep -q "response is not JSON" "$TMP/err" && grep -q "message content is not JSON" "$TMP/err" &&
    grep -q "no choices" "$TMP/err" && grep -q '"head" is not a string' "$TMP/err"
check $? "each kind of malformed reply named"
stop_mock

start_mock g --hang 1
t0=$(date +%s)
describe --classes "$TMP/three.txt" --out "$TMP/g.tsv" --endpoint "$EP" --timeout 1
rc=$?
t1=$(date +%s)
[ $rc = 0 ] && [ "$(ids "$TMP/g.tsv")" = "1 2 3 " ] && grep -q "timed out after 1.0 s" "$TMP/err"
check $? "a hung request times out and is retried ($((t1 - t0)) s)"
is 4 "$(count g)" "1 timed out + 3 good requests"
stop_mock

# --- failures ---------------------------------------------------------------------
start_mock h --status 400
describe --classes "$TMP/three.txt" --out "$TMP/h.tsv" --endpoint "$EP"
is 1 $? "HTTP 400: exit 1"
grep -q "class 1 'drink water' failed: HTTP 400: mock failure (after 1 attempt)" "$TMP/err" &&
    [ "$(ids "$TMP/h.tsv")" = "2 3 " ] && [ "$(count h)" = 3 ]
check $? "400 is not retried; the other classes are done"
stop_mock

start_mock i --missing-part "brushing teeth"
describe --classes "$L" --out "$TMP/i.tsv" --endpoint "$EP" --retries 2
is 1 $? "a class that always fails: exit 1"
grep -q "class 3 'brushing teeth' failed: the reply misses \"foot\" (after 3 attempts)" "$TMP/err"
check $? "the error names the class and what failed"
is "1 2 4 5 6 " "$(ids "$TMP/i.tsv")" "the other classes are kept"
is 8 "$(count i)" "5 good requests + 3 attempts for the failing class"
stop_mock
start_mock i2
describe --classes "$L" --out "$TMP/i.tsv" --endpoint "$EP"
[ $? = 0 ] && [ "$(count i2)" = 1 ] && cmp -s "$TMP/i.tsv" "$TMP/a.ref"
check $? "a later run fills the gap with one request, file in id order"
stop_mock

# --- keys, usage errors, other lists -----------------------------------------------
start_mock k --expect-key sekret
MYKEY=sekret describe --classes "$TMP/three.txt" --out "$TMP/k.tsv" --endpoint "$EP" \
    --api-key-env MYKEY
check $? "the key from --api-key-env is sent as a Bearer token"
describe --classes "$TMP/three.txt" --out "$TMP/k2.tsv" --endpoint "$EP"
rc=$?
[ $rc = 1 ] && grep -q "HTTP 401" "$TMP/err" && grep -q "stopping" "$TMP/err" && [ "$(count k)" = 4 ]
check $? "HTTP 401 stops the run at once (exit $rc)"
stop_mock

describe --classes "$L" --out "$TMP/x.tsv" --endpoint https://api.example.invalid/v1
rc=$?
[ $rc = 2 ] && grep -q "OPENAI_API_KEY is not set" "$TMP/err" && [ ! -e "$TMP/x.tsv" ]
check $? "no key for a remote endpoint: exit 2, nothing written"
# The key over plain http to another machine: refused unless --insecure-http.
MYKEY=sk-secret describe --classes "$L" --out "$TMP/x.tsv" --api-key-env MYKEY --endpoint http://api.example.invalid/v1
rc=$?
[ $rc = 2 ] && grep -q "plain http to another machine.*--insecure-http" "$TMP/err" && [ ! -e "$TMP/x.tsv" ]
check $? "a key over plain http to a remote host: exit 2, nothing sent or written"
MYKEY=sk-secret describe --classes "$L" --out "$TMP/x.tsv" --api-key-env MYKEY --endpoint http://api.example.invalid/v1 \
    --insecure-http --retries 0 --timeout 2 --limit 1
grep -q "warning: --insecure-http: the API key in MYKEY is sent unencrypted" "$TMP/err"
check $? "--insecure-http: allowed, with a warning"
rm -f "$TMP/x.tsv"
bad=0
for args in "--out $TMP/x.tsv" "--classes $L" "--classes $L --out $TMP/x.tsv --id-base 2" \
    "--classes $L --out $TMP/x.tsv --retries -1" "--classes $L --out $TMP/x.tsv --endpoint ftp://x" \
    "--classes $L --out $TMP/x.tsv --bogus 1" "--classes $TMP/none.txt --out $TMP/x.tsv"; do
    # shellcheck disable=SC2086
    describe $args
    rc=$?
    [ $rc = 2 ] || { bad=1; diag "exit $rc for: $args"; }
done
ok $bad "usage errors exit 2"
cp "$TMP/a.ref" "$TMP/other.tsv"
describe --classes "$TMP/three.txt" --out "$TMP/other.tsv" --endpoint "$EP"
rc=$?
[ $rc = 2 ] && grep -q "other.tsv:4: class id 2 'eat meal/snack' is not in" "$TMP/err" &&
    cmp -s "$TMP/other.tsv" "$TMP/a.ref"
check $? "a file for another list is refused and left alone (exit $rc)"

printf '%s\n' "abseiling" "hurling (sport)" "passing American football (in game)" > "$TMP/kin.txt"
start_mock m
describe --classes "$TMP/kin.txt" --out "$TMP/m.tsv" --endpoint "$EP" --id-base 0
[ $? = 0 ] && [ "$(ids "$TMP/m.tsv")" = "0 1 2 " ] &&
    [ "$(awk -F'\t' '$1 == 2 { print $2 }' "$TMP/m.tsv")" = "passing American football (in game)" ]
check $? "Kinetics list with --id-base 0: ids 0..2"
if command -v mpirun >/dev/null 2>&1; then
    timeout 60 mpirun -np 2 --oversubscribe "$BIN" --classes "$L" --out "$TMP/n.tsv" \
        --endpoint "$EP" --quiet >"$TMP/out" 2>"$TMP/err"
    [ $? = 0 ] && cmp -s "$TMP/n.tsv" "$TMP/a.ref" && [ "$(count m)" = 9 ]
    check $? "under mpirun -np 2: one writer, same file"
else skip 1 "no mpirun"; fi
stop_mock

done_testing

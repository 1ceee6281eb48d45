# shellcheck shell=bash
# scripts/run-builds.sh - which build trained a run, read from the run itself
# (sourced by experiment.sh and ucla-results.sh; tests/6030-run-builds.sh).
#
# The same seed trained by two builds can give a different top-1, so a table
# of paired runs names the builds behind them, taken from what each run
# recorded (README, "Which build trained a run"), never from the checkout
# that writes the table:
#   run_builds DIR   the builds that trained the run in DIR, in the order
#                    they first trained it, joined by " + ": cocodiff-train's
#                    "build" of each metrics.jsonl line, or the build column
#                    of cocodiff-frozen's heads.tsv; "build not recorded" for
#                    lines (or a whole run) from before builds were kept, or
#                    when DIR has neither file. With BUILDS_FILE=F (a JSON
#                    file of the run: diversity.json) F's "build" instead:
#                    the build that measured its figures. Needs jq (sourcing
#                    fails without it).
#   builds_of LABEL WORD DIR...
#                    one line for a group of runs, the runs grouped by
#                    run_builds and named by the number that ends each
#                    folder's name (seed3, fold0, joint-backbone-s2) as WORD:
#                    "LABEL: build 0.1.0+gabc1234 (seeds 1-5), build
#                    0.1.0+gdef5678 (seeds 6-10)"; nothing without a DIR.

# Without jq every run would read "build not recorded", a false record:
# sourcing fails instead (a `set -e` caller stops there).
command -v jq > /dev/null || { echo "scripts/run-builds.sh: needs jq (it reads each run's builds)" >&2; return 2; }

run_builds() {
    local d=$1
    if [ -n "${BUILDS_FILE:-}" ]; then
        [ ! -f "$d/$BUILDS_FILE" ] || jq -r '.build // "build not recorded"' "$d/$BUILDS_FILE" 2> /dev/null
    elif [ -f "$d/metrics.jsonl" ]; then
        jq -r '.build // "build not recorded"' "$d/metrics.jsonl" 2> /dev/null
    elif [ -f "$d/heads.tsv" ]; then
        awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "build") c = i; next }
                    { print (c && $c != "" ? $c : "build not recorded") }' "$d/heads.tsv"
    fi | awk 'NF && !seen[$0]++ { out = out (out == "" ? "" : " + ") $0 } END { print (out == "" ? "build not recorded" : out) }'
}

builds_of() {
    local label=$1 word=$2 d n
    shift 2
    [ $# -gt 0 ] || return 0
    for d in "$@"; do
        n=$(basename "$d")
        printf '%s\t%s\n' "$(run_builds "$d")" "${n##*[!0-9]}"
    done | awk -F'\t' -v label="$label" -v word="$word" '
        # "1-3, 5" from the ascending numbers of one build
        function ranges(s,  a, k, i, out, lo) {
            k = split(s, a, " ")
            for (i = 1; i <= k; i++) {
                lo = a[i]
                while (i < k && a[i + 1] == a[i] + 1) i++
                out = out (out == "" ? "" : ", ") (a[i] == lo ? lo : lo "-" a[i])
            }
            return out
        }
        { if (!($1 in nums)) order[++nb] = $1; nums[$1] = nums[$1] " " $2; cnt[$1]++ }
        END {
            line = label ": "
            for (i = 1; i <= nb; i++) {
                b = order[i]
                line = line (i > 1 ? ", " : "") (b ~ /^build not recorded/ ? "" : "build ") b " (" word (cnt[b] > 1 ? "s" : "") " " ranges(substr(nums[b], 2)) ")"
            }
            print line
        }'
}

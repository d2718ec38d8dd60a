# shellcheck shell=bash
# Progress of the toolchain's cold builds (sourced by scripts/toolchain.sh): each build says what it
# is expected to take (measured: scripts/toolchain/cold-build-times.tsv, the last cold build
# recorded in the repository) and, while it runs, prints the elapsed time at least every
# BATTLESCOPE_PROGRESS_INTERVAL seconds (default 60), so that a 30-minute cold build never looks
# like a hang. Every cold build's time is appended to $PROGRESS_RECORD (the cache's
# logs/cold-build-times.tsv), whose lines are the repository file's format: copy them there after
# a cold build on a quiet machine to keep the expectations true.
#
# The caller defines say() and sets PROGRESS_RECORD.

PROGRESS_TIMES="${PROGRESS_TIMES:-$(dirname "${BASH_SOURCE[0]}")/cold-build-times.tsv}"
PROGRESS_TICKERS=""

# duration_text <seconds>: "45 s", "2 min 31 s", "1 h 3 min"
duration_text() {
  local s=$1
  if ((s < 60)); then
    echo "$s s"
  elif ((s < 3600)); then
    echo "$((s / 60)) min $((s % 60)) s"
  else
    echo "$((s / 3600)) h $((s % 3600 / 60)) min"
  fi
}

# expected_text <tool> <version>: what the last recorded cold build of the tool took, e.g.
# "about 2 min 31 s (measured here 2026-12-07)"; a measurement of another version says which;
# "no cold build recorded" when the file has none.
expected_text() {
  local tool=$1 version=$2 line
  line="$(awk -F'\t' -v t="$tool" -v v="$version" '$1 == t && $2 == v { hit = $0 } END { print hit }' "$PROGRESS_TIMES" 2>/dev/null)"
  if [[ -z "$line" ]]; then
    line="$(awk -F'\t' -v t="$tool" '$1 == t { hit = $0 } END { print hit }' "$PROGRESS_TIMES" 2>/dev/null)"
  fi
  if [[ -z "$line" ]]; then
    echo "no cold build recorded"
    return 0
  fi
  local got_version seconds measured
  IFS=$'\t' read -r _ got_version seconds measured _ <<<"$line"
  if [[ "$got_version" == "$version" ]]; then
    echo "about $(duration_text "$seconds") (measured here $measured)"
  else
    echo "about $(duration_text "$seconds") (measured here $measured for $got_version)"
  fi
}

# ticker_start <label> <expected> [<started at, $SECONDS>]: prints "<label>: still building, <elapsed>
# elapsed (expected <expected>)" every interval until ticker_stop; sets TICKER_PID.
ticker_start() {
  local label=$1 expected=$2 t0=${3:-$SECONDS} parent=$$ interval="${BATTLESCOPE_PROGRESS_INTERVAL:-60}"
  (
    trap - ERR EXIT
    while sleep "$interval" && kill -0 "$parent" 2>/dev/null; do
      say "$label: still building, $(duration_text $((SECONDS - t0))) elapsed (expected $expected)"
    done
  ) &
  TICKER_PID=$!
  PROGRESS_TICKERS+=" $TICKER_PID"
}

# ticker_stop [<pid>]: stops the ticker (the last one started when none is named).
ticker_stop() {
  local pid=${1:-${TICKER_PID:-}}
  [[ -n "$pid" ]] || return 0
  kill "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
  PROGRESS_TICKERS="${PROGRESS_TICKERS// $pid/}"
}

# tickers_stop_all: for an EXIT trap (a failed build must not leave a ticker printing).
tickers_stop_all() {
  local pid
  for pid in $PROGRESS_TICKERS; do ticker_stop "$pid"; done
}

# progress_record <tool> <version> <seconds>: appends the cold build's time to $PROGRESS_RECORD.
progress_record() {
  [[ -n "${PROGRESS_RECORD:-}" ]] || return 0
  mkdir -p "$(dirname "$PROGRESS_RECORD")"
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$(date -u +%F)" "$(nproc) cores" >>"$PROGRESS_RECORD"
}

# shellcheck shell=bash
# Starting, watching and stopping the local services' daemons: one helper for every service
# (registry, BuildKit, the Hub emulator, etcd, the Kubernetes control plane, the node, containerd
# and the kubelet inside it). Sourced by scripts/local-services.sh, scripts/local-services/cluster.sh
# and the node's entry script; the caller defines say().
#
# A daemon's pid file holds "<pid> <start time> <started at>": the start time (field 22 of /proc/<pid>/stat,
# clock ticks since boot) is set when the process is forked and never changes, so it tells our
# process from a later one that reused the pid, before and after the exec alike ("started at" is
# the wall clock, for the time a start took). Judging by
# /proc/<pid>/cmdline instead judged a process dead in the moment between its fork and its exec,
# when the cmdline is still the starting script's: on a fresh machine (binaries never run, a cold
# page cache, a disk busy writing a just-built toolchain) that moment lasted long enough for the
# first probe to fail and the start to be reported as a timeout in the same second.
#
# Environment:
#   BATTLESCOPE_DAEMON_START_DELAY  seconds every daemon waits between its fork and its exec (the
#                                   tests widen that moment to prove no start depends on its length)

# daemon_starttime <pid>: the process's start time, empty when there is no such process.
daemon_starttime() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  # Field 2 (comm) may hold spaces and parentheses: count the fields after its closing ')'.
  stat="${stat##*) }"
  # shellcheck disable=SC2086 # split the fields on purpose
  set -- $stat
  echo "${20:-}"
}

# daemon_state <pid>: the one-letter state (R, S, D, Z, ...), empty when there is no such process.
daemon_state() {
  local stat
  stat="$(cat "/proc/$1/stat" 2>/dev/null)" || return 0
  stat="${stat##*) }"
  echo "${stat%% *}"
}

# pid_running <pid>: the process exists and has not exited. An exited daemon stays a zombie until
# its parent reaps it, and a daemon's parent is init: on these VMs init (process_api) reaps about
# every 2 s, so `kill -0` called every stopped daemon alive for up to 2 s more.
pid_running() {
  local state
  state="$(daemon_state "$1")"
  [[ -n "$state" && "$state" != Z && "$state" != X ]]
}

# daemon_pid <pidfile>: the pid the file names (empty when none).
daemon_pid() {
  local pid _
  [[ -s "$1" ]] || return 0
  read -r pid _ <"$1" || true
  [[ "$pid" =~ ^[0-9]+$ ]] && echo "$pid"
  return 0
}

# daemon_alive <pidfile> [<pattern>]: the process the file names runs (not a zombie). A pid file
# written before start times were recorded (pid alone) is checked by <pattern> in its cmdline.
daemon_alive() {
  local pid started state
  [[ -s "$1" ]] || return 1
  read -r pid started _ <"$1" || true
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  pid_running "$pid" || return 1
  if [[ -n "$started" ]]; then
    [[ "$(daemon_starttime "$pid")" == "$started" ]]
  else
    [[ -n "${2:-}" ]] && tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q -- "$2"
  fi
}

# daemon_start <pidfile> <log> <cmd...>: starts cmd detached from this shell's session (it leads
# a session of its own and survives the caller), stdout and stderr appended to <log> ("-": keep
# the caller's redirections, for a daemon whose streams go to separate files). Returns once the
# pid file is written; the daemon may not have exec'd yet, which daemon_alive does not mind.
daemon_start() {
  local pidfile="$1" log="$2" delay="${BATTLESCOPE_DAEMON_START_DELAY:-0}"
  shift 2
  # A subshell of a non-interactive shell is not a process-group leader, so setsid execs in place
  # and $! is the daemon's own pid.
  if [[ "$log" == - ]]; then
    (
      [[ "$delay" == 0 ]] || sleep "$delay"
      exec setsid "$@" </dev/null
    ) &
  else
    (
      [[ "$delay" == 0 ]] || sleep "$delay"
      exec setsid "$@" </dev/null >>"$log" 2>&1
    ) &
  fi
  local pid=$! started=""
  # The start time is readable as soon as fork returned; the loop only covers a /proc read racing it.
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    started="$(daemon_starttime "$pid")"
    [[ -z "$started" ]] || break
    sleep 0.01
  done
  echo "$pid $started ${EPOCHREALTIME:-$SECONDS}" >"$pidfile"
  DAEMON_CHILDREN+=" $pid "
}

# Pids this shell started (their exit status is ours to read with wait).
DAEMON_CHILDREN=" "

# daemon_exit_status <pid>: sets DAEMON_EXIT_STATUS to the exit status of a daemon this shell
# started, or to "unknown" for one an earlier run started (not our child). Not in a $(...): a
# subshell cannot wait for its parent's children.
daemon_exit_status() {
  local status=0
  if [[ "$DAEMON_CHILDREN" == *" $1 "* ]]; then
    wait "$1" 2>/dev/null || status=$?
    DAEMON_EXIT_STATUS="$status"
  else
    DAEMON_EXIT_STATUS="unknown (started by an earlier run)"
  fi
}

# daemon_log_tail <log> [<lines>]: the last lines of the log once nothing writes to it any more
# (a process that exited may leave children that still hold the log open: wait until its size has
# not changed for half a second, at most five seconds).
daemon_log_tail() {
  local log="$1" lines="${2:-25}" size last="" i
  for ((i = 0; i < 50; i++)); do
    size="$(stat -c %s "$log" 2>/dev/null || echo none)"
    if [[ "$size" == "$last" ]] && ((i >= 5)); then break; fi
    last="$size"
    sleep 0.1
  done
  if [[ ! -e "$log" ]]; then
    echo "  ($log does not exist)"
  elif [[ ! -s "$log" ]]; then
    echo "  ($log is empty)"
  else
    tail -n "$lines" "$log" | sed 's/^/  /'
  fi
}

# daemon_elapsed <since>: seconds since <since> (an EPOCHREALTIME value), one decimal.
daemon_elapsed() {
  local now="${EPOCHREALTIME:-$SECONDS}"
  awk -v a="$1" -v b="$now" 'BEGIN { printf "%.1f", b - a }'
}

# daemon_wait <name> <pidfile> <log> <timeout> <probe...>: waits until <probe> succeeds. The probe
# prints what it got (an HTTP status, an error) on its stdout; the last answer is in the report of
# a deadline that passed. Exits 1 with the report of what happened:
#   "<name> exited with status N after Xs; last lines of <log>:" when the process ended, or
#   "<name> did not become ready within Ns (waited Xs; last probe: ...); last lines of <log>:".
# Prints "<name> ready in Xs" (since this run's daemon_start, or since the wait began for a daemon
# an earlier run started): the start-cycle tests read those lines.
daemon_wait() {
  local name="$1" pidfile="$2" log="$3" timeout="$4"
  shift 4
  local began="${EPOCHREALTIME:-$SECONDS}" since="" answer="" pid _started
  pid="$(daemon_pid "$pidfile")"
  [[ "$DAEMON_CHILDREN" == *" $pid "* ]] && read -r _ _started since <"$pidfile"
  [[ -n "$since" ]] || since="$began"
  while true; do
    if answer="$("$@" 2>&1)"; then
      say "$name ready in $(daemon_elapsed "$since")s"
      return 0
    fi
    if ! daemon_alive "$pidfile"; then
      daemon_exit_status "${pid:-0}"
      say "$name exited with status $DAEMON_EXIT_STATUS after $(daemon_elapsed "$since")s (pid ${pid:-none}); last lines of $log:"
      daemon_log_tail "$log" >&2
      exit 1
    fi
    if awk -v a="$began" -v b="${EPOCHREALTIME:-$SECONDS}" -v t="$timeout" 'BEGIN { exit !(b - a >= t) }'; then
      say "$name did not become ready within ${timeout}s (waited $(daemon_elapsed "$began")s; last probe: $(daemon_one_line "$answer")); last lines of $log:"
      daemon_log_tail "$log" >&2
      exit 1
    fi
    sleep 0.2
  done
}

# daemon_one_line <text>: the text on one line, at most 300 characters ("no answer" when empty).
daemon_one_line() {
  local text="${1//$'\n'/ | }"
  [[ -n "$text" ]] || text="no answer"
  echo "${text:0:300}"
}

# probe_http <expected status regex> <curl arguments...>: prints "HTTP <status>" or curl's error,
# succeeds when the status matches.
probe_http() {
  local want="$1" out code
  shift
  # curl's error (on stderr) and then, on the last line, the status (000: no answer)
  out="$(curl -sS -o /dev/null -w '\n%{http_code}' --max-time 3 "$@" 2>&1)" || true
  code="${out##*$'\n'}"
  if [[ "$code" == 000 || -z "$code" ]]; then
    out="${out%$'\n'*}"
    out="${out#$'\n'}"
    echo "${out#curl: }" | head -n 1
    return 1
  fi
  echo "HTTP $code"
  [[ "$code" =~ ^($want)$ ]]
}

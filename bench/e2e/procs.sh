# Sourced by the bench scripts that start riptide programs in the background
# (bench/e2e/overload.sh, bench/e2e/proxy_memif.sh): stop them, wait for their
# start-up lines. The sourcing script keeps its PIDs in `pids` and names itself in
# `procs_name` for messages.

# stop_pid PID: SIGINT (the program prints its summary and exits), then up to 30 s,
# then SIGKILL; reaps it.
stop_pid() {
  local p=$1
  kill -INT "$p" 2>/dev/null || true
  for _ in $(seq 300); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
}

# stop_all: every PID in `pids`, as stop_pid does.
stop_all() {
  local p
  for p in "${pids[@]}"; do stop_pid "$p"; done
}

# wait_line FILE PATTERN SECONDS: until PATTERN appears in FILE; on a timeout, says
# so with FILE's last lines and fails.
wait_line() {
  local i
  for i in $(seq $(($3 * 10))); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.1
  done
  echo "${procs_name:-bench}: '$2' did not appear in $1:" >&2
  tail -20 "$1" >&2
  return 1
}

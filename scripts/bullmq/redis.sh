# Sourced by scripts/bullmq/try.sh (and any check against real BullMQ): a throwaway Redis server
# (Debian's redis-server, 7.0.15 on Debian 12) for BullMQ to run on.
#
# The server runs as this user, listens on 127.0.0.1 only (a free port), keeps nothing on disk
# (`--save ''`, `--appendonly no`) and has its working directory (log) in a directory of the
# caller's. It runs with `--hz 100` (Redis's default is 10): a blocked BZPOPMIN times out only
# when the server's event loop wakes, at least every 1000/hz ms when idle, and a BullMQ worker
# waits for a delayed job's due time in exactly such a BZPOPMIN. With hz 10 a retry after a 400 ms
# backoff was seen starting 490-496 ms after the failure; with hz 100, 404-406 ms.
# The caller provides `say` (a log function) and calls `redis_stop` on exit (from its EXIT trap).
#
#   redis_install      installs redis-server with apt if it is missing (needs root then)
#   redis_start DIR    starts the server with its files in DIR; sets redis_port and redis_pid, and
#                      returns once it answers PING. On failure prints its log and returns 1
#   redis_stop         stops it if it runs; safe to call twice

redis_pid=
redis_port=

redis_install() {
  if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
    say "installing Debian's redis-server"
    export DEBIAN_FRONTEND=noninteractive
    apt-cache show redis-server >/dev/null 2>&1 || apt-get update -qq
    # Without systemd, policy-rc.d refuses to start the packaged service: fine, we run our own.
    apt-get install -y -qq redis-server >/dev/null
  fi
}

redis_stop() {
  if [ -n "$redis_pid" ] && kill -0 "$redis_pid" 2>/dev/null; then
    # SIGTERM: redis-server shuts down at once (nothing to save).
    kill -TERM "$redis_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$redis_pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$redis_pid" 2>/dev/null; then
      say "redis-server $redis_pid did not stop; killing it"
      kill -KILL "$redis_pid" 2>/dev/null || true
    fi
    wait "$redis_pid" 2>/dev/null || true
  fi
  redis_pid=
}

redis_start() {
  local dir=$1 version started
  mkdir -p "$dir"
  redis_port=$(python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
  version=$(dpkg-query -W -f '${Version}' redis-server 2>/dev/null || echo '?')
  say "starting Redis $version on 127.0.0.1:$redis_port"
  started=$SECONDS
  # In the foreground of a background job, so that we know its pid to stop it. No config file:
  # everything is on the command line (no unix socket: that is the default).
  redis-server --bind 127.0.0.1 --port "$redis_port" \
    --save '' --appendonly no --hz 100 --dir "$dir" --daemonize no \
    --logfile "$dir/redis.log" --loglevel notice --databases 16 >"$dir/stdout.log" 2>&1 &
  redis_pid=$!
  for _ in $(seq 100); do
    if [ "$(redis-cli -h 127.0.0.1 -p "$redis_port" ping 2>/dev/null)" = PONG ]; then
      say "redis up in $((SECONDS - started)) s (pid $redis_pid)"
      return 0
    fi
    kill -0 "$redis_pid" 2>/dev/null || break
    sleep 0.1
  done
  cat "$dir/stdout.log" >&2
  tail -n 30 "$dir/redis.log" >&2 2>/dev/null || true
  say "redis did not start"
  return 1
}

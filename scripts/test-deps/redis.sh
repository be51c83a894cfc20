#!/usr/bin/env bash
# Test dependency: Debian's Redis as the Celery broker of the distributed-executor test
# (hedging_pipeline_tests/reliability/test_celery.py). Installs the package when redis-server is missing and
# starts a throw-away server on 127.0.0.1:6399 (no persistence) when none answers there. Never fails the test
# run: without a server the test starts its own from the binary, or is skipped with a loud reason.
set -uo pipefail
# shellcheck source=lib/apt.sh
source "$(dirname "$0")/lib/apt.sh"

PORT="${HEDGING_TEST_REDIS_PORT:-6399}"
server_bin() {
  command -v redis-server 2>/dev/null || { [ -x /usr/bin/redis-server ] && echo /usr/bin/redis-server; }
}
answering() {
  # inline PING over bash's /dev/tcp: no redis-cli needed
  local reply
  reply=$( { exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf 'PING\r\n' >&3 && timeout 2 head -c 5 <&3; } 2>/dev/null )
  [[ "$reply" == +PONG* ]]
}

if [ -z "$(server_bin)" ]; then
  apt_install redis redis-server || exit 0
fi

if answering; then
  exit 0
fi
dir=$(mktemp -d /tmp/hedging-test-redis.XXXXXX)
"$(server_bin)" --bind 127.0.0.1 --port "$PORT" --save "" --appendonly no --dir "$dir" \
  --daemonize yes --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" \
  || { echo "test-deps/redis: redis-server did not start; the celery test starts its own" >&2; exit 0; }
for _ in $(seq 1 50); do
  answering && { echo "test-deps/redis: broker on 127.0.0.1:$PORT (pid $(cat "$dir/redis.pid" 2>/dev/null))" >&2; exit 0; }
  sleep 0.1
done
echo "test-deps/redis: redis-server on port $PORT does not answer; the celery test starts its own" >&2
exit 0

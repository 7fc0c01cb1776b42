#!/usr/bin/env bash
# /entrypoint of the stand-in image (devtools/image/Dockerfile): what docker-compose.yaml relies
# on from the official image's entrypoint, written for this project.
#   <airflow command> ...   e.g. `scheduler`, `celery worker`: runs `airflow <command> ...`
#   airflow ...             the same
#   bash ... / python ...   runs them as they are
# Before any of these it waits for Airflow's metadata database (`airflow db check`), and before
# `scheduler` and `celery ...` under CeleryExecutor for the broker, up to
# CONNECTION_CHECK_MAX_COUNT tries (default 20, 0 skips the waits) CONNECTION_CHECK_SLEEP_TIME
# seconds apart (default 3).
set -euo pipefail

CONNECTION_CHECK_MAX_COUNT=${CONNECTION_CHECK_MAX_COUNT:-20}
CONNECTION_CHECK_SLEEP_TIME=${CONNECTION_CHECK_SLEEP_TIME:-3}

# Folders created on mounted volumes stay writable for the other uids of group 0.
umask 0002

if [[ $(id -g) != 0 ]]; then
  echo "ERROR: run this image with group 0 (e.g. --user \"\$(id -u):0\"); you used $(id -u):$(id -g)" >&2
  exit 1
fi
# An arbitrary uid (compose's AIRFLOW_UID) has no passwd entry, which Airflow's CLI needs (it
# logs the user name), and no HOME: give it both (/etc/passwd is writable for group 0).
if ! whoami >/dev/null 2>&1; then
  export HOME=${AIRFLOW_USER_HOME_DIR:-/home/airflow}
  if [[ -w /etc/passwd ]]; then
    echo "${USER_NAME:-default}:x:$(id -u):0:${USER_NAME:-default} user:${HOME}:/sbin/nologin" >>/etc/passwd
  fi
fi

retry() {
  local what=$1 tries=0 output
  shift
  until output=$("$@" 2>&1); do
    tries=$((tries + 1))
    if ((tries >= CONNECTION_CHECK_MAX_COUNT)); then
      echo "ERROR: $what not reachable after $tries tries; last output of '$*':" >&2
      echo "$output" >&2
      exit 1
    fi
    sleep "$CONNECTION_CHECK_SLEEP_TIME"
  done
}

broker_reachable() {
  python - "$(airflow config get-value celery broker_url)" <<'PY'
import socket, sys
from urllib.parse import urlsplit

url = urlsplit(sys.argv[1])
port = url.port or {"redis": 6379, "rediss": 6379, "amqp": 5672}.get(url.scheme, 6379)
socket.create_connection((url.hostname or "localhost", port), timeout=5).close()
PY
}

command=${1:-}
if ((CONNECTION_CHECK_MAX_COUNT > 0)); then
  command -v airflow >/dev/null || {
    echo "ERROR: no airflow on PATH; the product Dockerfile installs it (make image-offline)" >&2
    exit 1
  }
  retry "Airflow's metadata database" airflow db check
fi
case $command in
  bash) shift; exec /bin/bash "$@" ;;
  python) shift; exec python "$@" ;;
  airflow) shift; command=${1:-} ;;
esac
if [[ $command =~ ^(scheduler|celery)$ ]] && ((CONNECTION_CHECK_MAX_COUNT > 0)) \
  && [[ $(airflow config get-value core executor) == CeleryExecutor ]]; then
  retry "the Celery broker" broker_reachable
fi
exec airflow "$@"

#!/usr/bin/env bash
# Installs what the test suite needs from Debian's packages, once: chromium for
# the real-browser test, kcat and librdkafka's Python binding for the Kafka
# protocol tests, redis-server and nats-server for the bench's peers suite,
# etcd-server for the cluster tests (each of these runs its own instances on
# its own ports and directories, so the packages' system services are stopped
# and disabled after installing).
# `npm test` runs this first, so a fresh machine needs nothing by hand.
# Idempotent: a no-op when everything is already there.
set -euo pipefail

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
# Debian's Python modules load in Debian's interpreter, not whichever python3 is first on PATH.
/usr/bin/python3 -c 'import confluent_kafka' >/dev/null 2>&1 || missing+=(python3-confluent-kafka)
[ -x /usr/bin/redis-server ] || missing+=(redis-server)
# nats-server lives in /usr/sbin, not on every user's PATH.
[ -x /usr/sbin/nats-server ] || command -v nats-server >/dev/null 2>&1 || missing+=(nats-server)
[ -x /usr/bin/etcd ] || missing+=(etcd-server)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
  echo "install-test-deps: the tests need ${missing[*]} from Debian's packages; run as root, or: sudo apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
echo "install-test-deps: installing ${missing[*]}"
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

# The packages enable (and may start) system services; the bench and tests never use them.
for package_service in redis-server:redis-server nats-server:nats-server etcd-server:etcd; do
  package=${package_service%%:*}
  service=${package_service#*:}
  case " ${missing[*]} " in *" $package "*) ;; *) continue ;; esac
  if [ -d /run/systemd/system ]; then
    systemctl disable --now "$service" >/dev/null 2>&1 || true
  else
    service "$service" stop >/dev/null 2>&1 || true
    systemctl disable "$service" >/dev/null 2>&1 || true
  fi
done

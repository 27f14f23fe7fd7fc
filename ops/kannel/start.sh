#!/usr/bin/env bash
# Starts Kannel (bearerbox, smsbox) with a fake SMSC client on 127.0.0.1, for tests and demos.
# Usage: ops/kannel/start.sh DIR [BASE_PORT]   — writes DIR/kannel.conf, logs, DIR/fakesmsc.out
# Prints the environment to use: LOA_KANNEL_SENDSMS=http://127.0.0.1:PORT/cgi-bin/sendsms …
# Stop with: ops/kannel/stop.sh DIR
set -euo pipefail
dir=$(mkdir -p "$1" && cd "$1" && pwd)
base=${2:-14000}
here=$(cd "$(dirname "$0")" && pwd)
sed -e "s#@DIR@#$dir#g" -e "s#@ADMIN_PORT@#$base#g" -e "s#@SMSBOX_PORT@#$((base + 1))#g" \
    -e "s#@FAKE_PORT@#$((base + 2))#g" -e "s#@SENDSMS_PORT@#$((base + 3))#g" "$here/kannel.conf.template" >"$dir/kannel.conf"
/usr/sbin/bearerbox "$dir/kannel.conf" >"$dir/bearerbox.out" 2>&1 & echo $! >"$dir/bearerbox.pid"
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$((base + 2))) 2>/dev/null && break; sleep 0.2; done
/usr/sbin/smsbox "$dir/kannel.conf" >"$dir/smsbox.out" 2>&1 & echo $! >"$dir/smsbox.pid"
# The fake SMSC: receives every MT message and prints it; -m 0 sends no MO traffic.
/usr/lib/kannel/test/fakesmsc -H 127.0.0.1 -r $((base + 2)) -i 0.1 -m 0 "+84000 +84000 text x" >"$dir/fakesmsc.out" 2>&1 & echo $! >"$dir/fakesmsc.pid"
for _ in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$((base + 3))) 2>/dev/null && break; sleep 0.2; done
echo "LOA_KANNEL_SENDSMS=http://127.0.0.1:$((base + 3))/cgi-bin/sendsms"
echo "LOA_KANNEL_FAKESMSC_LOG=$dir/fakesmsc.out"

#!/usr/bin/env bash
# Stops what ops/kannel/start.sh DIR started.
dir=$1
for p in fakesmsc smsbox bearerbox; do [ -f "$dir/$p.pid" ] && kill "$(cat "$dir/$p.pid")" 2>/dev/null; done
exit 0

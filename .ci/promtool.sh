#!/bin/sh
# Puts `promtool` on PATH for the alert-rule tests (test/deploy/monitoring.test.ts skips them
# without it). Like the local stack's Kafka and registry, it is fetched once into the user's cache
# without root: `apt-get download` of Debian's `prometheus` package (no dpkg install, no service),
# unpacked with `dpkg-deb -x` into ~/.cache/pgcdc/prometheus-deb/. Sourced by .ci/test.sh (npm test); on a host
# without apt the tests say they skipped and why.
promtool_dir="${XDG_CACHE_HOME:-$HOME/.cache}/pgcdc/prometheus-deb"
if ! command -v promtool > /dev/null 2>&1; then
  if [ ! -x "$promtool_dir/usr/bin/promtool" ] && command -v apt-get > /dev/null 2>&1; then
    tmp="$(mktemp -d)"
    chmod 0777 "$tmp" # apt-get download writes as the _apt user when it can
    if (cd "$tmp" && apt-get download -q prometheus > /dev/null 2>&1); then
      mkdir -p "$promtool_dir" && dpkg-deb -x "$tmp"/prometheus_*.deb "$promtool_dir"
    else
      echo "ci: could not download Debian's prometheus package (apt-get download prometheus); the alert-rule tests will skip" >&2
    fi
    rm -rf "$tmp"
  fi
  if [ -x "$promtool_dir/usr/bin/promtool" ]; then export PATH="$promtool_dir/usr/bin:$PATH"; fi
fi

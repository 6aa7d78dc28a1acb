#!/bin/sh
# Puts `promtool` and the `prometheus` server on PATH for the monitoring tests (the alert-rule unit
# tests of test/deploy/monitoring.test.ts, and test/deploy/prometheus-scrape.int.test.ts, which
# scrapes a running pipeline with a real Prometheus; both skip without them). Like the local
# stack's Kafka and registry, they are fetched once into the user's cache without root:
# `apt-get download` of Debian's `prometheus` package (no dpkg install, no service), unpacked with
# `dpkg-deb -x` into ~/.cache/pgcdc/prometheus-deb/. Sourced by .ci/test.sh (npm test) and by the
# scrape test; on a host without apt the tests say they skipped and why.
promtool_dir="${XDG_CACHE_HOME:-$HOME/.cache}/pgcdc/prometheus-deb"
if ! command -v promtool > /dev/null 2>&1 || ! command -v prometheus > /dev/null 2>&1; then
  if [ ! -x "$promtool_dir/usr/bin/prometheus" ] && command -v apt-get > /dev/null 2>&1; then
    tmp="$(mktemp -d)"
    chmod 0777 "$tmp" # apt-get download writes as the _apt user when it can
    if (cd "$tmp" && apt-get download -q prometheus > /dev/null 2>&1); then
      mkdir -p "$promtool_dir" && dpkg-deb -x "$tmp"/prometheus_*.deb "$promtool_dir"
    else
      echo "ci: could not download Debian's prometheus package (apt-get download prometheus); the monitoring tests will skip" >&2
    fi
    rm -rf "$tmp"
  fi
  if [ -x "$promtool_dir/usr/bin/promtool" ]; then export PATH="$promtool_dir/usr/bin:$PATH"; fi
fi

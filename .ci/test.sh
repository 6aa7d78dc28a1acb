#!/bin/sh
# `npm test`: both test tiers (unit and integration; the integration tier starts the local stack it
# needs and stops what it started). First `promtool` is put on PATH (promtool.sh: Debian's package,
# fetched once into the user's cache without root) so the alert-rule unit tests run instead of
# skipping. After a full run the unit tier runs once more on Node.js 24 (the npm registry's `node`
# package; the machine may have only Node 20; about 1.5 minutes; PGCDC_CI_NODE24=0 skips it).
# Arguments go to vitest (`npm test -- test/pipeline`), and then the Node 24 pass is left out.
set -eu
. "$(dirname "$0")/promtool.sh"
if [ $# -gt 0 ]; then exec npx vitest run "$@"; fi
npx vitest run
if [ "${PGCDC_CI_NODE24:-1}" != 0 ]; then
  node24="$(npm exec --yes --package=node@24 -- which node)"
  echo "test: unit tier on $("$node24" --version)"
  "$node24" node_modules/vitest/vitest.mjs run --project unit
fi

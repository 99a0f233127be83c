#!/usr/bin/env bash
# The demo: services, install, migrate, seed a synthetic day, preload it, and
# print what readers see. Safe to run again (every step is idempotent).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

DAY="${DEMO_DATE:-$(date -u +%F)}"
export ORGENGINE_MYSQL_URL="${ORGENGINE_MYSQL_URL:-mysql://root@127.0.0.1:3306/orgengine}"
oe() { node bin/orgengine.js "$@"; }

echo "== services";  bash scripts/services.sh
echo "== install";   npm install --no-audit --no-fund --loglevel=error
echo "== migrate";   oe migrate
echo "== seed $DAY: 4 lessons of 3,000 students, 6 tutors, group policy"
oe seed --lessons 4 --students 3000 --tutors 6 --policy group --seed 1 --date "$DAY"
echo "== preload the day"
oe preload --date "$DAY"
echo "== what readers see"
oe show --lesson 100001

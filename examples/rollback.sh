#!/usr/bin/env bash
# Roll a table back from a terminal: see where it stands, preview the SQL, then confirm.
#   BLUEGREEN_DATABASE_URL=postgresql://... examples/rollback.sh orders
set -euo pipefail
table="${1:?usage: examples/rollback.sh TABLE}"

bluegreen status "$table"
bluegreen rollback "$table" --dry-run     # exactly the SQL that will run
bluegreen rollback "$table"               # asks for confirmation; --yes skips it
bluegreen status "$table"

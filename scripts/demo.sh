#!/usr/bin/env bash
# `make demo` (after `make build`): the Star Wars scenario on a real agent — pods, live policies
# from docs/examples/live, traffic, a table of verdicts, the last flows and the service map — then
# teardown. The driver (test/e2e/demo-main.ts, shared with the e2e test) does all the printing.
set -euo pipefail
cd "$(dirname "$0")/.."
exec node scripts/demo.mjs "$@"

#!/usr/bin/env bash
# `make demo` at this stage: validate the example policies, then trace the example flows
# through the real CLI and print a table. Later issues turn this into live traffic.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== meshd policy validate docs/examples/policies"
node bin/meshd.js policy validate docs/examples/policies
echo
echo "== meshd policy trace, for each flow in docs/examples/flows.yaml"
node scripts/demo-trace-table.mjs docs/examples/flows.yaml

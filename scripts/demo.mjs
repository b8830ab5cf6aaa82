#!/usr/bin/env node
// Entry of `make demo`: runs the compiled scenario driver (dist/test/e2e/demo-main.js), which the
// e2e test (test/e2e/starwars.test.ts) shares, so the demo and the test cannot drift apart.
import { existsSync } from 'node:fs';

const driver = new URL('../dist/test/e2e/demo-main.js', import.meta.url);
if (!existsSync(driver)) {
  console.error('dist/test/e2e/demo-main.js is missing: run `make build` (or `make demo`, which builds first)');
  process.exit(1);
}
await import(driver.href);

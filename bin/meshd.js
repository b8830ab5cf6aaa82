#!/usr/bin/env node
// Thin launcher: the CLI lives in the compiled agent layer (npm ci runs `prepare`, which builds dist/).
import { main } from '../dist/agent/cli/main.js';

process.exitCode = await main(process.argv.slice(2));

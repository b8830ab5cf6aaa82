// Child process for the hostile-input test: loads one file's text with loadPolicyText three times
// in a fresh process and prints one JSON line {defects, ms}. `ms` is the CPU time (user + system)
// of each load, not the wall time: the limit is there to catch super-linear parsing, and CPU time
// does not grow when other work shares the machine's cores, as it does in CI. A fresh, minimal process matters:
// some inputs only break a later parse (deep recursion inside the YAML parser can make V8 abort
// the whole process when it compiles a regular expression near the stack limit), and whether that
// happens depends on what the process ran before.
//   node dist/test/fuzz/load-repeatedly.js FILE NAME

import { readFileSync } from 'node:fs';
import { loadPolicyText } from '../../policy/index.js';
import { resultDefects } from './check-result.js';

export const LOADS_PER_FILE = 3;

const [file, name] = process.argv.slice(2);
if (file !== undefined && name !== undefined) {
  const text = readFileSync(file, 'utf8');
  const defects: string[] = [];
  const ms: number[] = [];
  let first: string | undefined;
  for (let k = 0; k < LOADS_PER_FILE; k++) {
    const t0 = cpuMs();
    try {
      const r = loadPolicyText(name, text);
      ms.push(cpuMs() - t0);
      defects.push(...resultDefects(name, text, r).map((d) => `load ${k + 1}: ${d}`));
      const json = JSON.stringify(r);
      if (first === undefined) first = json;
      else if (json !== first) defects.push(`load ${k + 1} gave a different result from load 1`);
    } catch (e) {
      ms.push(cpuMs() - t0);
      defects.push(`load ${k + 1}: loadPolicyText threw: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    }
  }
  process.stdout.write(JSON.stringify({ defects, ms }) + '\n');
}

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

// What a loader result must look like for any input, however broken: arrays of well-formed
// problems, each with a known MESHD_ERR_POLICY_ code, a message, a field path and a position that
// names the file and lies inside it; nothing returned to apply when there is a problem; nothing
// cyclic or otherwise unserializable.

import { POLICY_ERROR_CODES, type FileLoadResult, type SourcePosition } from '../../policy/index.js';

/** Describes what is wrong with `r` as the result of loading `text` under `name`; empty when fine. */
export function resultDefects(name: string, text: string, r: FileLoadResult): string[] {
  const defects: string[] = [];
  const lines = text.split('\n');
  const checkPosition = (what: string, p: SourcePosition | undefined): void => {
    if (!p || typeof p !== 'object') return void defects.push(`${what}: no position`);
    if (p.file !== name) defects.push(`${what}: position names ${JSON.stringify(p.file)}, not ${JSON.stringify(name)}`);
    if (!Number.isInteger(p.line) || p.line < 1 || p.line > lines.length) defects.push(`${what}: line ${String(p.line)} outside 1..${lines.length}`);
    else if (!Number.isInteger(p.col) || p.col < 1 || p.col > lines[p.line - 1]!.length + 1) defects.push(`${what}: col ${String(p.col)} outside line ${p.line} (length ${lines[p.line - 1]!.length})`);
  };
  for (const key of ['policies', 'cidrGroups', 'skipped', 'problems', 'warnings'] as const) {
    if (!Array.isArray(r?.[key])) defects.push(`result.${key} is not an array`);
  }
  if (defects.length > 0) return defects;
  r.problems.forEach((p, i) => {
    const what = `problem ${i} (${String(p?.code)}: ${String(p?.message).slice(0, 120)})`;
    if (typeof p.code !== 'string' || !(p.code in POLICY_ERROR_CODES) || !p.code.startsWith('MESHD_ERR_POLICY_')) defects.push(`${what}: unknown code`);
    if (typeof p.message !== 'string' || p.message.trim() === '') defects.push(`${what}: empty message`);
    if (typeof p.path !== 'string') defects.push(`${what}: path is not a string`);
    if (p.hint !== undefined && (typeof p.hint !== 'string' || p.hint.trim() === '')) defects.push(`${what}: hint is ${typeof p.hint === 'string' ? 'empty' : `not a string but ${typeof p.hint}`}`);
    checkPosition(what, p.position);
  });
  r.warnings.forEach((w, i) => {
    if (typeof w.message !== 'string' || w.message === '') defects.push(`warning ${i}: empty message`);
    checkPosition(`warning ${i}`, w.position);
  });
  r.skipped.forEach((s, i) => {
    if (typeof s.note !== 'string' || s.note === '') defects.push(`skipped ${i}: no note`);
    checkPosition(`skipped ${i} (${s.kind})`, s.position);
  });
  r.policies.forEach((p, i) => checkPosition(`policy ${i}`, p.origin?.position));
  // All or nothing per file: a file with a problem contributes nothing to apply.
  if (r.problems.length > 0 && (r.policies.length > 0 || r.cidrGroups.length > 0)) {
    defects.push(`rejected (${r.problems.length} problems), yet ${r.policies.length} policies and ${r.cidrGroups.length} CIDR groups returned`);
  }
  try {
    JSON.stringify(r);
  } catch (e) {
    defects.push(`the result cannot be serialized: ${(e as Error).message}`);
  }
  return defects;
}

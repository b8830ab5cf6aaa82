// One policy problem as the CLI reports it. Text: `file:line:col  CODE  message`, then its
// hint; JSON: the flat ProblemReport. Shared by `policy validate` and main.ts's error report
// (a command that fails on invalid policies prints them the same way).

import { formatPosition } from '../../policy/index.js';
import type { PolicyProblem } from '../../policy/index.js';

/** Field names are part of the `-o json` interface (append-only). */
export interface ProblemReport {
  code: string;
  message: string;
  /** Field path inside the document, e.g. `spec.ingress[0].toPorts[0].ports[0].port`. */
  path: string;
  file: string;
  line: number;
  col: number;
  hint: string | null;
}

export function toProblemReport(p: PolicyProblem): ProblemReport {
  return { code: p.code, message: p.message, path: p.path, ...p.position, hint: p.hint ?? null };
}

export function renderProblem(p: ProblemReport): string {
  // The field path belongs in every report; the loader may or may not have put it in the message.
  const text = p.path && !p.message.includes(p.path) ? `${p.path}: ${p.message}` : p.message;
  const line = `${formatPosition(p)}  ${p.code}  ${text}\n`;
  return p.hint ? `${line}  hint: ${p.hint}\n` : line;
}

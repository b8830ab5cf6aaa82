// Parses a YAML or JSON file into documents and answers "where in the file is this field?".
// The yaml library parses JSON too (JSON is a subset of YAML 1.2) and keeps every node's source
// range, so one parser gives file:line:col for both formats (docs/adr/0002).

import { parseAllDocuments, isMap, isSeq, isPair, isScalar, type Document, type Node } from 'yaml';
import type { SourcePosition } from '../errors.js';

export type FieldPath = ReadonlyArray<string | number>;

export interface ParsedDocument {
  /** Plain JS value of the document (maps → objects, sequences → arrays). */
  value: unknown;
  /** Position of the document's first token. */
  position: SourcePosition;
  /** Position of the node at `path` (`at: 'key'` points at the map key instead of its value). */
  positionOf(path: FieldPath, at?: 'key' | 'value'): SourcePosition;
}

export interface SyntaxProblem {
  message: string;
  position: SourcePosition;
}

export interface ParsedSource {
  documents: ParsedDocument[];
  syntaxProblems: SyntaxProblem[];
}

// Deep or huge inputs are hostile or broken; refuse them before the recursive walkers see them.
const MAX_ALIAS_EXPANSION = 10_000;

/** Policies are a dozen levels deep; far deeper input is hostile and would exhaust the stack. */
export const MAX_NESTING_DEPTH = 64;
const MAX_SYNTAX_PROBLEMS_PER_DOCUMENT = 10;
/** Bound of the textual pre-scan; generous, since indentation over-counts levels. */
const MAX_SCANNED_NESTING = 256;

/**
 * An upper bound of a line's nesting: its indentation plus compact `- `/`? ` indicators, plus the
 * open flow brackets (outside quotes and comments) carried over from earlier lines. Over-counting
 * is fine, under-counting is not: every nesting level needs one of these. Returns where the
 * bound is first exceeded.
 */
function nestingEstimateExceeds(text: string, limit: number): { line: number; col: number } | undefined {
  let flowDepth = 0;
  let quote: '"' | "'" | undefined;
  let line = 1;
  let lineStart = 0;
  let blockDepth = 0;
  let isLeading = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (ch === '\n') {
      line++;
      lineStart = i + 1;
      blockDepth = 0;
      isLeading = true;
      continue;
    }
    if (quote) {
      if (ch === '\\' && quote === '"') i++;
      else if (ch === quote) quote = undefined;
      continue;
    }
    if (isLeading) {
      if (ch === ' ' || ch === '\t') {
        blockDepth++;
        continue;
      }
      if ((ch === '-' || ch === '?' || ch === ':') && (text[i + 1] === ' ' || text[i + 1] === '\n')) {
        blockDepth++;
        i++;
        continue;
      }
      isLeading = false;
    }
    if (ch === '"' || ch === "'") quote = ch;
    else if (ch === '#' && (i === lineStart || text[i - 1] === ' ' || text[i - 1] === '\t')) {
      const nl = text.indexOf('\n', i);
      i = (nl < 0 ? text.length : nl) - 1;
    } else if (ch === '[' || ch === '{') flowDepth++;
    else if ((ch === ']' || ch === '}') && flowDepth > 0) flowDepth--;
    if (flowDepth + blockDepth > limit) return { line, col: i - lineStart + 1 };
  }
  return undefined;
}

export function parseSource(file: string, text: string): ParsedSource {
  // The yaml parser recurses per nesting level, and very deep input (20,000 `[`) can exhaust
  // the stack badly enough that V8 aborts the process instead of throwing. Refuse it first.
  const tooDeep = nestingEstimateExceeds(text, MAX_SCANNED_NESTING);
  if (tooDeep) {
    return { documents: [], syntaxProblems: [{ message: `the document is nested too deeply (more than ${MAX_SCANNED_NESTING} levels)`, position: { file, ...tooDeep } }] };
  }
  try {
    return parseSourceUnguarded(file, text);
  } catch (e) {
    // The yaml parser recurses per nesting level; a RangeError here is a too-deep document.
    if (e instanceof RangeError) {
      return { documents: [], syntaxProblems: [{ message: `the document is nested too deeply (more than ${MAX_NESTING_DEPTH} levels)`, position: { file, line: 1, col: 1 } }] };
    }
    throw e;
  }
}

function parseSourceUnguarded(file: string, text: string): ParsedSource {
  // logLevel: the library would print its own warnings (e.g. on complex keys) to stderr.
  const docs = parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false, strict: true, logLevel: 'error' });
  // Our own newline index rather than the library's LineCounter, which misplaces columns in
  // some broken streams (found by fuzzing); offsets from the parser are exact.
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i >= 0; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const toPos = (offset: number): SourcePosition => {
    const at = Math.max(0, Math.min(offset, text.length));
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { file, line: lo + 1, col: at - lineStarts[lo]! + 1 };
  };

  const documents: ParsedDocument[] = [];
  const syntaxProblems: SyntaxProblem[] = [];
  // parseAllDocuments returns an EmptyStream (array-like, no docs) for an empty file.
  for (const doc of Array.from(docs as Iterable<Document.Parsed>)) {
    if (doc.errors.length > 0) {
      // One broken line can cascade into thousands of follow-on errors; the first few locate it.
      for (const e of doc.errors.slice(0, MAX_SYNTAX_PROBLEMS_PER_DOCUMENT)) syntaxProblems.push({ message: firstLine(e.message), position: toPos(e.pos[0]) });
      if (doc.errors.length > MAX_SYNTAX_PROBLEMS_PER_DOCUMENT) {
        syntaxProblems.push({ message: 'more syntax errors follow in this document, likely follow-ons of the first ones', position: toPos(doc.errors[MAX_SYNTAX_PROBLEMS_PER_DOCUMENT]!.pos[0]) });
      }
      continue;
    }
    if (doc.contents === null) continue; // an empty document, e.g. a trailing `---`
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
    } catch (e) {
      syntaxProblems.push({ message: (e as Error).message, position: toPos(doc.range[0]) });
      continue;
    }
    // A document of only comments (or `~`) holds nothing; Kubernetes tooling skips it too.
    if (value === null || value === undefined) continue;
    if (depthExceeds(value, MAX_NESTING_DEPTH)) {
      syntaxProblems.push({ message: `the document is nested too deeply (more than ${MAX_NESTING_DEPTH} levels)`, position: toPos(doc.range[0]) });
      continue;
    }
    const root = doc.contents as Node;
    documents.push({
      value,
      position: toPos(root.range?.[0] ?? doc.range[0]),
      positionOf: (path, at = 'value') => toPos(locate(root, path, at)),
    });
  }
  return { documents, syntaxProblems };
}

/** Offset of the node at `path`, or of the deepest ancestor that exists. */
function locate(root: Node, path: FieldPath, at: 'key' | 'value'): number {
  let node: Node = root;
  let offset = node.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const step = path[i];
    const isLast = i === path.length - 1;
    if (isMap(node) && typeof step === 'string') {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === step);
      if (!pair) return offset;
      const key = pair.key as Node;
      if (isLast && at === 'key') return key.range?.[0] ?? offset;
      const value = pair.value as Node | null;
      if (!value) return key.range?.[0] ?? offset;
      node = value;
    } else if (isSeq(node) && typeof step === 'number') {
      const item = node.items[step] as Node | undefined;
      if (!item) return offset;
      node = item;
    } else {
      return offset;
    }
    offset = node.range?.[0] ?? offset;
  }
  return offset;
}

/** Iterative, so the check itself cannot overflow the stack. */
function depthExceeds(root: unknown, limit: number): boolean {
  const stack: Array<[unknown, number]> = [[root, 0]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v !== 'object' || v === null) continue;
    if (depth > limit) return true;
    for (const child of Object.values(v)) stack.push([child, depth + 1]);
  }
  return false;
}

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

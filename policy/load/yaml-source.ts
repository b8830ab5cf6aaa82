// Parses a YAML or JSON file into documents and answers "where in the file is this field?".
// The yaml library parses JSON too (JSON is a subset of YAML 1.2) and keeps every node's source
// range, so one parser gives file:line:col for both formats (docs/adr/0002).

import { LineCounter, parseAllDocuments, isMap, isSeq, isPair, isScalar, type Document, type Node } from 'yaml';
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

export function parseSource(file: string, text: string): ParsedSource {
  const lineCounter = new LineCounter();
  const docs = parseAllDocuments(text, {
    lineCounter,
    uniqueKeys: true,
    prettyErrors: false,
    strict: true,
  });
  const toPos = (offset: number): SourcePosition => {
    const { line, col } = lineCounter.linePos(Math.max(0, Math.min(offset, text.length)));
    return { file, line, col };
  };

  const documents: ParsedDocument[] = [];
  const syntaxProblems: SyntaxProblem[] = [];
  // parseAllDocuments returns an EmptyStream (array-like, no docs) for an empty file.
  for (const doc of Array.from(docs as Iterable<Document.Parsed>)) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) syntaxProblems.push({ message: firstLine(e.message), position: toPos(e.pos[0]) });
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

function firstLine(s: string): string {
  return s.split('\n')[0] ?? s;
}

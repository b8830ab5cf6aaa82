// YAML or JSON text → plain values, plus "where in the file is this field?". The yaml library
// parses JSON too (JSON is a subset of YAML 1.2) and keeps every node's source range, so one parser
// gives file:line:col for both formats. Same idea as the policy loader's yaml-source, written again
// here because layers share only their public entries and that one is a policy internal.
import { parseAllDocuments, isMap, isPair, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { SourcePosition } from '../../policy/index.js';

export type FieldPath = ReadonlyArray<string | number>;

export interface YamlDocument {
  value: unknown;
  position: SourcePosition;
  /** Position of the node at `path`, or of its deepest ancestor present; `'key'` points at the map key. */
  positionOf(path: FieldPath, at?: 'key' | 'value'): SourcePosition;
}

export interface YamlSyntaxProblem {
  message: string;
  position: SourcePosition;
}

/** Aliases can expand a small file into a huge value ("billion laughs"); refuse past this. */
const MAX_ALIAS_EXPANSION = 10_000;
const MAX_SYNTAX_PROBLEMS = 10;

export function parseYamlDocuments(file: string, text: string): { documents: YamlDocument[]; syntaxProblems: YamlSyntaxProblem[] } {
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

  let parsed: Document.Parsed[];
  try {
    // logLevel 'error': the library would otherwise print its own warnings on stderr.
    parsed = Array.from(parseAllDocuments(text, { uniqueKeys: true, prettyErrors: false, strict: true, logLevel: 'error' }) as Iterable<Document.Parsed>);
  } catch (err) {
    // The parser recurses per nesting level; absurdly deep input ends here as a RangeError.
    if (err instanceof RangeError) return { documents: [], syntaxProblems: [{ message: 'the document is nested too deeply', position: toPos(0) }] };
    throw err;
  }
  const documents: YamlDocument[] = [];
  const syntaxProblems: YamlSyntaxProblem[] = [];
  for (const doc of parsed) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors.slice(0, MAX_SYNTAX_PROBLEMS)) syntaxProblems.push({ message: e.message.split('\n')[0] ?? e.message, position: toPos(e.pos[0]) });
      continue;
    }
    if (doc.contents === null) continue; // an empty document, e.g. after a trailing `---`
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: MAX_ALIAS_EXPANSION });
    } catch (err) {
      syntaxProblems.push({ message: err instanceof RangeError ? 'the document is nested too deeply' : (err as Error).message, position: toPos(doc.range[0]) });
      continue;
    }
    if (value === null || value === undefined) continue; // only comments
    const root = doc.contents as Node;
    documents.push({ value, position: toPos(root.range?.[0] ?? doc.range[0]), positionOf: (path, at = 'value') => toPos(locate(root, path, at)) });
  }
  return { documents, syntaxProblems };
}

function locate(root: Node, path: FieldPath, at: 'key' | 'value'): number {
  let node: Node = root;
  let offset = node.range?.[0] ?? 0;
  for (let i = 0; i < path.length; i++) {
    const step = path[i];
    if (isMap(node) && typeof step === 'string') {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === step);
      if (!pair) return offset;
      const key = pair.key as Node;
      if (i === path.length - 1 && at === 'key') return key.range?.[0] ?? offset;
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

// A small interpreter for the subset of Go's text/template that the corpus's templated manifests
// use, so the test can turn them into the policies upstream actually applies:
//   {{.Field}} {{.A.B}} {{.}} {{$var}} {{$var.Field}}     values (missing map keys are <no value>)
//   {{$x := pipeline}}                                    variables, scoped to the enclosing block
//   {{fn arg ...}} {{x | fn arg}} {{fn (fn2 a b) c}}      calls, pipes (the value goes last), parens
//   {{if p}} {{else if p}} {{else}} {{end}}              conditionals (Go truthiness)
//   {{range p}} {{range $e := p}} {{range $i, $e := p}}  loops over lists (dot is the element)
//   {{- x}} {{x -}}                                       whitespace trimming
//   {{/* comment */}}
// Anything else (with, define, template, block, break, continue) is refused with an error, so a
// new construct in the corpus shows up as a test failure instead of a silently wrong rendering.
// The functions are supplied by the caller (`funcs`); `eq` is built in as in Go.
// cilium-cli renders with html/template, which HTML-escapes interpolated values; the values the
// corpus test uses contain no character that would be escaped, so plain text output is the same.

export type TemplateFunc = (...args: unknown[]) => unknown;

export class TemplateError extends Error {
  constructor(message: string, line: number) {
    super(`template line ${line}: ${message}`);
    this.name = 'TemplateError';
  }
}

type Operand =
  | { t: 'field'; base: 'dot' | string; chain: string[] } // base: 'dot' or a variable name incl. '$'
  | { t: 'literal'; value: unknown }
  | { t: 'func'; name: string }
  | { t: 'sub'; pipe: Pipeline };

interface Command {
  operands: Operand[];
}

interface Pipeline {
  decl: string[];
  /** `=` assigns an existing variable instead of declaring one. */
  assign: boolean;
  commands: Command[];
  line: number;
}

type TNode =
  | { k: 'text'; s: string }
  | { k: 'action'; pipe: Pipeline }
  | { k: 'if'; branches: { cond: Pipeline; body: TNode[] }[]; otherwise: TNode[] | undefined }
  | { k: 'range'; pipe: Pipeline; body: TNode[]; otherwise: TNode[] | undefined };

interface RawToken {
  text?: string;
  action?: string;
  line: number;
}

/** Renders `source` with `data` as the dot. Throws TemplateError on anything it does not understand. */
export function renderGoTemplate(source: string, data: unknown, funcs: Readonly<Record<string, TemplateFunc>> = {}): string {
  const tokens = lex(source);
  const parser = new Parser(tokens);
  const nodes = parser.parseList([]);
  if (parser.pending()) throw new TemplateError(`unexpected {{${parser.peekKeyword()}}}`, parser.line());
  const out: string[] = [];
  new Evaluator(data, { eq, ...funcs }, out).list(nodes, [new Map([['$', data]])], data);
  return out.join('');
}

// ---------------------------------------------------------------------------------------------
// Lexing: text and {{actions}}, with trim markers applied.

function lex(src: string): RawToken[] {
  const tokens: RawToken[] = [];
  let i = 0;
  let line = 1;
  let trimNext = false;
  const countLines = (s: string): number => s.split('\n').length - 1;
  while (i < src.length) {
    const open = src.indexOf('{{', i);
    let text = open === -1 ? src.slice(i) : src.slice(i, open);
    const textLines = countLines(text);
    if (trimNext) text = text.replace(/^\s+/, '');
    trimNext = false;
    if (open === -1) {
      if (text) tokens.push({ text, line });
      break;
    }
    let start = open + 2;
    if (src[start] === '-' && /\s/.test(src[start + 1] ?? '')) {
      text = text.replace(/\s+$/, '');
      start += 2;
    }
    if (text) tokens.push({ text, line });
    line += textLines;
    const close = findClose(src, start, line);
    let body = src.slice(start, close);
    if (/\s-$/.test(body)) {
      body = body.slice(0, -2);
      trimNext = true;
    }
    tokens.push({ action: body.trim(), line });
    line += countLines(src.slice(open, close + 2));
    i = close + 2;
  }
  return tokens;
}

function findClose(src: string, from: number, line: number): number {
  let quote: string | undefined;
  for (let j = from; j < src.length; j++) {
    const c = src[j]!;
    if (quote) {
      if (c === '\\' && quote === '"') j++;
      else if (c === quote) quote = undefined;
      continue;
    }
    if (c === '"' || c === '`') quote = c;
    else if (c === '}' && src[j + 1] === '}') return j;
  }
  throw new TemplateError('unclosed action', line);
}

// ---------------------------------------------------------------------------------------------
// Parsing actions into a tree.

type Tok = { t: 'str' | 'num' | 'ident' | 'var' | 'field' | 'punct'; v: string };

function tokenizeAction(s: string, line: number): Tok[] {
  const toks: Tok[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (/\s/.test(c)) {
      i++;
      continue;
    }
    const rest = s.slice(i);
    let m: RegExpExecArray | null;
    let consumed: number;
    if (c === '"') {
      m = /^"(?:[^"\\]|\\.)*"/.exec(rest);
      if (!m) throw new TemplateError(`unterminated string in {{${s}}}`, line);
      toks.push({ t: 'str', v: JSON.parse(m[0]) as string });
      consumed = m[0].length;
    } else if (c === '`') {
      const end = s.indexOf('`', i + 1);
      if (end === -1) throw new TemplateError(`unterminated raw string in {{${s}}}`, line);
      toks.push({ t: 'str', v: s.slice(i + 1, end) });
      consumed = end + 1 - i;
    } else if ((m = /^:=|^[()|,=]/.exec(rest))) {
      toks.push({ t: 'punct', v: m[0] });
      consumed = m[0].length;
    } else if ((m = /^-?\d+(?:\.\d+)?/.exec(rest))) {
      toks.push({ t: 'num', v: m[0] });
      consumed = m[0].length;
    } else if ((m = /^\$[A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*/.exec(rest))) {
      toks.push({ t: 'var', v: m[0] });
      consumed = m[0].length;
    } else if ((m = /^\.(?:[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)?/.exec(rest))) {
      toks.push({ t: 'field', v: m[0] });
      consumed = m[0].length;
    } else if ((m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(rest))) {
      toks.push({ t: 'ident', v: m[0] });
      consumed = m[0].length;
    } else {
      throw new TemplateError(`unexpected ${JSON.stringify(c)} in {{${s}}}`, line);
    }
    i += consumed;
  }
  return toks;
}

class Parser {
  private pos = 0;
  constructor(private readonly tokens: RawToken[]) {}

  pending(): boolean {
    return this.pos < this.tokens.length;
  }
  line(): number {
    return this.tokens[Math.min(this.pos, this.tokens.length - 1)]?.line ?? 1;
  }
  peekKeyword(): string {
    return this.tokens[this.pos]?.action ?? '';
  }

  /** Parses nodes until an action whose first word is in `stops` (left unconsumed). */
  parseList(stops: string[]): TNode[] {
    const nodes: TNode[] = [];
    while (this.pos < this.tokens.length) {
      const tok = this.tokens[this.pos]!;
      if (tok.text !== undefined) {
        nodes.push({ k: 'text', s: tok.text });
        this.pos++;
        continue;
      }
      const action = tok.action!;
      const word = /^[a-z]+\b/.exec(action)?.[0] ?? '';
      if (action.startsWith('/*')) {
        if (!action.endsWith('*/')) throw new TemplateError('unterminated comment', tok.line);
        this.pos++;
        continue;
      }
      if (stops.includes(word)) return nodes;
      this.pos++;
      switch (word) {
        case 'if':
          nodes.push(this.parseIf(action.slice(2), tok.line));
          break;
        case 'range':
          nodes.push(this.parseRange(action.slice(5), tok.line));
          break;
        case 'else':
        case 'end':
          throw new TemplateError(`unexpected {{${action}}}`, tok.line);
        case 'with':
        case 'define':
        case 'template':
        case 'block':
        case 'break':
        case 'continue':
          throw new TemplateError(`{{${word}}} is not supported by this renderer`, tok.line);
        default:
          nodes.push({ k: 'action', pipe: parsePipeline(action, tok.line) });
      }
    }
    if (stops.length > 0) throw new TemplateError(`missing {{end}}`, this.line());
    return nodes;
  }

  private parseIf(condText: string, line: number): TNode {
    const branches: { cond: Pipeline; body: TNode[] }[] = [];
    let cond = parsePipeline(condText, line);
    for (;;) {
      const body = this.parseList(['else', 'end']);
      branches.push({ cond, body });
      const tok = this.tokens[this.pos]!;
      this.pos++;
      const action = tok.action!;
      if (action === 'end') return { k: 'if', branches, otherwise: undefined };
      const elseIf = /^else\s+if\b/.exec(action);
      if (elseIf) {
        cond = parsePipeline(action.slice(elseIf[0].length), tok.line);
        continue;
      }
      if (action !== 'else') throw new TemplateError(`unexpected {{${action}}}`, tok.line);
      const otherwise = this.parseList(['end']);
      this.pos++;
      return { k: 'if', branches, otherwise };
    }
  }

  private parseRange(pipeText: string, line: number): TNode {
    const pipe = parsePipeline(pipeText, line);
    const body = this.parseList(['else', 'end']);
    const tok = this.tokens[this.pos]!;
    this.pos++;
    if (tok.action === 'end') return { k: 'range', pipe, body, otherwise: undefined };
    if (tok.action !== 'else') throw new TemplateError(`unexpected {{${tok.action}}} in range`, tok.line);
    const otherwise = this.parseList(['end']);
    this.pos++;
    return { k: 'range', pipe, body, otherwise };
  }
}

function parsePipeline(text: string, line: number): Pipeline {
  const toks = tokenizeAction(text, line);
  let i = 0;
  const decl: string[] = [];
  let assign = false;
  // `$a :=`, `$a, $b :=`, `$a =`
  const declEnd = toks.findIndex((t) => t.t === 'punct' && (t.v === ':=' || t.v === '='));
  if (declEnd > 0) {
    for (const t of toks.slice(0, declEnd)) {
      if (t.t === 'var' && !t.v.includes('.')) decl.push(t.v);
      else if (!(t.t === 'punct' && t.v === ',')) throw new TemplateError(`bad declaration in {{${text}}}`, line);
    }
    assign = toks[declEnd]!.v === '=';
    i = declEnd + 1;
  }
  const [pipe, next] = parseCommands(toks, i, text, line);
  if (next !== toks.length) throw new TemplateError(`unexpected ")" in {{${text}}}`, line);
  return { decl, assign, commands: pipe, line };
}

function parseCommands(toks: Tok[], start: number, text: string, line: number): [Command[], number] {
  const commands: Command[] = [];
  let operands: Operand[] = [];
  let i = start;
  for (; i < toks.length; i++) {
    const t = toks[i]!;
    if (t.t === 'punct' && t.v === ')') break;
    if (t.t === 'punct' && t.v === '|') {
      if (operands.length === 0) throw new TemplateError(`empty command in {{${text}}}`, line);
      commands.push({ operands });
      operands = [];
      continue;
    }
    if (t.t === 'punct' && t.v === '(') {
      const [sub, end] = parseCommands(toks, i + 1, text, line);
      if (toks[end]?.v !== ')') throw new TemplateError(`unclosed "(" in {{${text}}}`, line);
      operands.push({ t: 'sub', pipe: { decl: [], assign: false, commands: sub, line } });
      i = end;
      continue;
    }
    operands.push(toOperand(t, text, line));
  }
  if (operands.length === 0) throw new TemplateError(`missing value in {{${text}}}`, line);
  commands.push({ operands });
  return [commands, i];
}

function toOperand(t: Tok, text: string, line: number): Operand {
  switch (t.t) {
    case 'str':
      return { t: 'literal', value: t.v };
    case 'num':
      return { t: 'literal', value: Number(t.v) };
    case 'field':
      return { t: 'field', base: 'dot', chain: t.v === '.' ? [] : t.v.slice(1).split('.') };
    case 'var': {
      const [name, ...chain] = t.v.split('.');
      return { t: 'field', base: name!, chain };
    }
    case 'ident':
      if (t.v === 'true' || t.v === 'false') return { t: 'literal', value: t.v === 'true' };
      if (t.v === 'nil') return { t: 'literal', value: null };
      return { t: 'func', name: t.v };
    default:
      throw new TemplateError(`unexpected ${JSON.stringify(t.v)} in {{${text}}}`, line);
  }
}

// ---------------------------------------------------------------------------------------------
// Evaluation.

type Scope = Map<string, unknown>[];

class Evaluator {
  constructor(
    private readonly root: unknown,
    private readonly funcs: Readonly<Record<string, TemplateFunc>>,
    private readonly out: string[],
  ) {}

  list(nodes: TNode[], scope: Scope, dot: unknown): void {
    for (const n of nodes) this.node(n, scope, dot);
  }

  private node(n: TNode, scope: Scope, dot: unknown): void {
    switch (n.k) {
      case 'text':
        this.out.push(n.s);
        return;
      case 'action': {
        const v = this.pipeline(n.pipe, scope, dot);
        if (n.pipe.decl.length === 0) this.out.push(printValue(v, n.pipe.line));
        return;
      }
      case 'if': {
        for (const b of n.branches) {
          const inner: Scope = [...scope, new Map()];
          if (truthy(this.pipeline(b.cond, inner, dot))) {
            this.list(b.body, inner, dot);
            return;
          }
        }
        if (n.otherwise) this.list(n.otherwise, [...scope, new Map()], dot);
        return;
      }
      case 'range': {
        const inner: Scope = [...scope, new Map()];
        const decl = n.pipe.decl;
        const seq = this.pipeline({ ...n.pipe, decl: [] }, inner, dot);
        const items = rangeItems(seq, n.pipe.line);
        if (items.length === 0) {
          if (n.otherwise) this.list(n.otherwise, [...scope, new Map()], dot);
          return;
        }
        for (const [key, item] of items) {
          const iter: Scope = [...scope, new Map()];
          const vars = iter[iter.length - 1]!;
          if (decl.length === 1) vars.set(decl[0]!, item);
          if (decl.length === 2) {
            vars.set(decl[0]!, key);
            vars.set(decl[1]!, item);
          }
          this.list(n.body, iter, item);
        }
        return;
      }
    }
  }

  private pipeline(p: Pipeline, scope: Scope, dot: unknown): unknown {
    let value: unknown = undefined;
    p.commands.forEach((cmd, idx) => {
      value = this.command(cmd, scope, dot, idx === 0 ? [] : [value], p.line);
    });
    if (p.decl.length === 1) {
      const name = p.decl[0]!;
      if (p.assign) {
        const owner = [...scope].reverse().find((m) => m.has(name));
        if (!owner) throw new TemplateError(`undefined variable ${name}`, p.line);
        owner.set(name, value);
      } else {
        scope[scope.length - 1]!.set(name, value);
      }
    } else if (p.decl.length > 1) {
      throw new TemplateError('too many declarations outside range', p.line);
    }
    return value;
  }

  private command(cmd: Command, scope: Scope, dot: unknown, piped: unknown[], line: number): unknown {
    const [head, ...rest] = cmd.operands;
    if (head!.t === 'func') {
      const fn = this.funcs[head!.name];
      if (!fn) throw new TemplateError(`function "${head!.name}" not defined`, line);
      const args = [...rest.map((o) => this.operand(o, scope, dot, line)), ...piped];
      try {
        return fn(...args);
      } catch (e) {
        throw new TemplateError(`error calling ${head!.name}: ${(e as Error).message}`, line);
      }
    }
    if (rest.length > 0 || piped.length > 0) throw new TemplateError("can't give arguments to a non-function", line);
    return this.operand(head!, scope, dot, line);
  }

  private operand(o: Operand, scope: Scope, dot: unknown, line: number): unknown {
    switch (o.t) {
      case 'literal':
        return o.value;
      case 'sub':
        return this.pipeline(o.pipe, scope, dot);
      case 'func': {
        const fn = this.funcs[o.name];
        if (!fn) throw new TemplateError(`function "${o.name}" not defined`, line);
        return fn();
      }
      case 'field': {
        let v: unknown;
        if (o.base === 'dot') v = dot;
        else if (o.base === '$') v = this.root;
        else {
          const owner = [...scope].reverse().find((m) => m.has(o.base));
          if (!owner) throw new TemplateError(`undefined variable ${o.base}`, line);
          v = owner.get(o.base);
        }
        for (const name of o.chain) {
          if (v === null || typeof v !== 'object' || Array.isArray(v)) {
            throw new TemplateError(`can't evaluate field ${name} in ${describeValue(v)}`, line);
          }
          v = (v as Record<string, unknown>)[name]; // a missing map key is <no value>, as in Go
        }
        return v;
      }
    }
  }
}

function rangeItems(v: unknown, line: number): [unknown, unknown][] {
  if (v === undefined || v === null) return [];
  if (Array.isArray(v)) return v.map((item, i) => [i, item]);
  if (typeof v === 'number' && Number.isInteger(v)) return Array.from({ length: Math.max(0, v) }, (_, i) => [i, i]);
  if (typeof v === 'object') return Object.keys(v).sort().map((k) => [k, (v as Record<string, unknown>)[k]]);
  throw new TemplateError(`range can't iterate over ${describeValue(v)}`, line);
}

function truthy(v: unknown): boolean {
  if (v === undefined || v === null || v === false || v === 0 || v === '') return false;
  if (Array.isArray(v)) return v.length > 0;
  if (typeof v === 'object') return Object.keys(v).length > 0;
  return true;
}

function eq(a: unknown, ...others: unknown[]): boolean {
  if (others.length === 0) throw new Error('missing argument for comparison');
  return others.some((b) => a === b);
}

function printValue(v: unknown, line: number): string {
  // Go prints <no value> for a missing map key; in a manifest that is always a mistake in the data.
  if (v === undefined) throw new TemplateError('value is <no value> (missing field in the template data)', line);
  if (v === null) return '<nil>';
  if (Array.isArray(v)) return `[${v.map((x) => printValue(x, line)).join(' ')}]`;
  if (typeof v === 'object') throw new TemplateError(`cannot print ${describeValue(v)}`, line);
  return String(v);
}

function describeValue(v: unknown): string {
  if (v === undefined) return '<no value>';
  if (v === null) return 'nil';
  if (Array.isArray(v)) return 'a list';
  return typeof v === 'object' ? 'a map' : `${typeof v} ${JSON.stringify(v)}`;
}

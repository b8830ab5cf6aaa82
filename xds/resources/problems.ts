// Field-path problems for the checks Envoy's PGV rules (and its config loading) would fail on and
// that meshd's own output could plausibly get wrong: empty names, ports out of range, CIDRs that do
// not parse, regexes RE2 rejects, missing typed configs. Validators collect every problem rather
// than stopping at the first, each prefixed with its field path (grpc-js-xds' convention).
import { isIP } from 'node:net';
import { RE2JS } from 're2js';
import type { Any } from '@bufbuild/protobuf/wkt';
import type { DescMessage, MessageShape } from '@bufbuild/protobuf';
import { unpackAny } from '../codec/index.js';

export interface ResourceProblem {
  /** Proto field path from the resource root, e.g. `filter_chains[0].filters[0].typed_config.stat_prefix`. */
  path: string;
  message: string;
}

export class ProblemList {
  readonly items: ResourceProblem[] = [];

  add(path: string, message: string): void {
    this.items.push({ path, message });
  }

  nonEmpty(path: string, value: string, what = 'must not be empty'): void {
    if (value === '') this.add(path, what);
  }

  port(path: string, value: number | undefined, { allowZero = false } = {}): void {
    if (value === undefined || !Number.isInteger(value) || value < (allowZero ? 0 : 1) || value > 65535) {
      this.add(path, `port ${String(value)} is outside ${allowZero ? 0 : 1}–65535`);
    }
  }

  ip(path: string, address: string): void {
    if (isIP(address) === 0) this.add(path, `"${address}" is not an IP address`);
  }

  cidr(path: string, address: string, length: number | undefined): void {
    const family = isIP(address);
    if (family === 0) {
      this.add(`${path}.address_prefix`, `"${address}" is not an IP address`);
      return;
    }
    const max = family === 4 ? 32 : 128;
    if (length === undefined || !Number.isInteger(length) || length < 0 || length > max) {
      this.add(`${path}.prefix_len`, `prefix length ${String(length)} is outside 0–${max} for ${address}`);
    }
  }

  /** RE2 syntax, as Envoy's google_re2 engine compiles `safe_regex` (it fails config load otherwise). */
  regex(path: string, regex: string): void {
    const error = re2Error(regex);
    if (error !== undefined) this.add(path, `RE2 rejects the regex: ${error}`);
  }

  unique(path: string, values: readonly string[], what: string): void {
    const seen = new Set<string>();
    values.forEach((v, i) => {
      if (seen.has(v)) this.add(`${path}[${i}]`, `duplicate ${what} "${v}"`);
      seen.add(v);
    });
  }

  /** Decodes a typed_config and checks it is the expected type; returns the message or undefined. */
  typedConfig<Desc extends DescMessage>(path: string, any: Any | undefined, schema: Desc): MessageShape<Desc> | undefined {
    if (!any) {
      this.add(path, `missing (expected ${schema.typeName})`);
      return undefined;
    }
    try {
      const { schema: actual, message } = unpackAny(any);
      if (actual.typeName !== schema.typeName) {
        this.add(path, `is ${actual.typeName}, expected ${schema.typeName}`);
        return undefined;
      }
      return message as MessageShape<Desc>;
    } catch (err) {
      this.add(path, err instanceof Error ? err.message : String(err));
      return undefined;
    }
  }

  merge(path: string, problems: readonly ResourceProblem[]): void {
    for (const p of problems) this.items.push({ path: p.path === '' ? path : `${path}.${p.path}`, message: p.message });
  }
}

// Compiled per call: validation runs once per generated resource, and policy/regex (which caches)
// is not part of the policy layer's public entry. re2js is the same engine policy validates with.
function re2Error(regex: string): string | undefined {
  try {
    RE2JS.compile(regex);
    return undefined;
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

export function formatProblems(resource: string, problems: readonly ResourceProblem[]): string[] {
  return problems.map((p) => `${resource}: ${p.path}: ${p.message}`);
}

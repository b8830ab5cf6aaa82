// The agent's applied policies: `meshd policy apply/delete/list/get` and `--policy-dir`. An apply
// is all-or-nothing across every document of every source; what is applied is saved under
// <state>/policies/ (the original document text) before the Repository sees it, and restored
// from there when the agent starts.
import { mkdir } from 'node:fs/promises';
import { matchesSelector, policyDisplayName, type EndpointPolicy, type PolicyProblem, type PolicyWarning, type Repository, type SkippedDocument } from '../../policy/index.js';
import type { ApiRequest, ApiRoute } from '../api/index.js';
import { PolicyStoreError } from './errors.js';
import { loadSourceSet, type LoadedEntry, type PolicySource } from './load-set.js';
import { commitPolicyFiles, moveAside, policiesDir, policyFileName, readPolicyFiles, renderPolicyFile, type PolicyOriginSource } from './policy-files.js';
import { PolicyDirWatcher } from './policy-dir-watcher.js';

export interface PolicySummary {
  /** `kind/namespace/name` (the Repository's key). */
  key: string;
  kind: string;
  namespace?: string;
  name: string;
  /** The file it was applied from, and whether through the API or --policy-dir. */
  file: string;
  source: PolicyOriginSource;
  appliedAt: string;
  auditMode: boolean;
  rules: number;
  /** How many endpoints on this node its rules select now. */
  endpoints: number;
}

export interface PolicyRef {
  kind?: string;
  namespace?: string;
  name: string;
}

export interface ApplyResult {
  applied: PolicySummary[];
  /** Policies of the applied set whose text was already stored as is. */
  unchanged: string[];
  warnings: PolicyWarning[];
  skipped: SkippedDocument[];
}

export interface PolicyStoreLogger {
  info(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface PolicyStoreOptions {
  stateDir: string;
  repository: Repository;
  logger: PolicyStoreLogger;
  /** Loaded on open and watched: its files are one source set, reloaded whole on any change. */
  policyDir?: string;
  /** Debounce of the watcher, ms (default 200). */
  policyDirDebounceMs?: number;
  /** After policies changed in the Repository (the reconciler installs them). */
  onChange(): Promise<void>;
}

interface StoredPolicy {
  entry: LoadedEntry;
  source: PolicyOriginSource;
  appliedAt: string;
}

const KINDS = ['CiliumNetworkPolicy', 'CiliumClusterwideNetworkPolicy', 'NetworkPolicy', 'CiliumRuleList'];

export class PolicyStore {
  readonly #o: PolicyStoreOptions;
  readonly #policies = new Map<string, StoredPolicy>();
  #queue: Promise<unknown> = Promise.resolve();
  #watcher: PolicyDirWatcher | undefined;
  #closed = false;

  private constructor(o: PolicyStoreOptions) {
    this.#o = o;
  }

  /** Restores the saved policies into the Repository (no onChange: the agent regenerates all at start). */
  static async open(o: PolicyStoreOptions): Promise<PolicyStore> {
    const store = new PolicyStore(o);
    await mkdir(policiesDir(o.stateDir), { recursive: true });
    for (const { path, file, error } of await readPolicyFiles(o.stateDir)) {
      const loaded = file && loadSourceSet([{ file: file.header.file, text: file.text }]);
      const entry = loaded?.entries.find((e) => e.key === file!.header.key);
      if (!file || !entry) {
        const aside = await moveAside(path).catch(() => undefined);
        const problems = loaded?.problems.map(formatProblem) ?? [];
        o.logger.warn({ code: 'MESHD_ERR_POLICY_STORE_CORRUPT', file: path, movedTo: aside, err: error?.message, problems }, 'a saved policy does not load; moved aside');
        continue;
      }
      store.#policies.set(entry.key, { entry, source: file.header.source, appliedAt: file.header.appliedAt });
      o.repository.upsertPolicy(entry.policy);
    }
    if (store.#policies.size > 0) o.logger.info({ policies: store.#policies.size }, 'restored policies');
    if (o.policyDir !== undefined) {
      store.#watcher = new PolicyDirWatcher({
        dir: o.policyDir,
        debounceMs: o.policyDirDebounceMs ?? 200,
        logger: o.logger,
        reload: (sources) => store.#reloadPolicyDir(sources),
      });
      await store.#watcher.start();
    }
    return store;
  }

  /** Validates every document of every source; applies all of them or throws (with every problem) and changes nothing. */
  async apply(sources: PolicySource[]): Promise<ApplyResult> {
    checkSources(sources);
    return this.#exclusive(() => this.#apply(sources, 'api', false));
  }

  async delete(ref: PolicyRef): Promise<PolicySummary> {
    const summary = await this.#exclusive(async () => {
      this.#assertOpen();
      const stored = this.#resolve(ref);
      const summary = this.#summary(stored);
      try {
        await commitPolicyFiles(this.#o.stateDir, [], [policyFileName(stored.entry.key)]);
      } catch (err) {
        throw writeError(err);
      }
      this.#policies.delete(stored.entry.key);
      this.#o.repository.deletePolicy(stored.entry.policy.origin);
      return summary;
    });
    this.#o.logger.info({ policy: summary.key }, 'policy deleted');
    await this.#o.onChange();
    return summary;
  }

  list(): PolicySummary[] {
    return [...this.#policies.values()].map((p) => this.#summary(p)).sort((a, b) => a.key.localeCompare(b.key));
  }

  get(ref: PolicyRef): { summary: PolicySummary; text: string } {
    const stored = this.#resolve(ref);
    return { summary: this.#summary(stored), text: stored.entry.documentText };
  }

  /** Whether the policy (by Repository key) carries `meshd.io/audit-mode: "true"`. */
  isAudit(policyKey: string): boolean {
    return this.#policies.get(policyKey)?.entry.auditMode ?? false;
  }

  /** Whether an audit-mode policy selects the endpoint (its resolved policy names the rules). */
  selectsInAuditMode(policy: EndpointPolicy | undefined): boolean {
    if (!policy) return false;
    return [...policy.ingress.rules, ...policy.egress.rules].some((r) => this.isAudit(this.#keyOfRule(r.origin)));
  }

  /** Resolves once the policy-dir reload in progress (if any) is done; for tests and `--wait`. */
  async settled(): Promise<void> {
    await this.#watcher?.settled();
    await this.#queue;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#watcher?.close();
    await this.#queue;
  }

  routes(): ApiRoute[] {
    return [
      {
        method: 'POST',
        path: '/v1/policies',
        handler: (req: ApiRequest) => {
          const body = req.body as { sources?: unknown } | null;
          return this.apply((body && typeof body === 'object' ? body.sources : undefined) as PolicySource[]);
        },
      },
      { method: 'GET', path: '/v1/policies', handler: async () => ({ policies: this.list() }) },
      { method: 'GET', path: '/v1/policies/get', handler: async (req: ApiRequest) => this.get(refFromQuery(req.query)) },
      { method: 'DELETE', path: '/v1/policies', handler: async (req: ApiRequest) => ({ deleted: await this.delete(refFromQuery(req.query)) }) },
    ];
  }

  // ---- internals --------------------------------------------------------------------------

  async #apply(sources: PolicySource[], source: PolicyOriginSource, replaceDirSet: boolean): Promise<ApplyResult> {
    this.#assertOpen();
    const loaded = loadSourceSet(sources);
    if (loaded.problems.length > 0) {
      const n = loaded.problems.length;
      throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_INVALID', `${n} problem${n === 1 ? '' : 's'} in the policies; nothing was applied`, {
        problems: loaded.problems,
        httpStatus: 400,
        hint: 'fix every problem listed (file:line:col) and apply again',
      });
    }
    const appliedAt = new Date().toISOString();
    const changed = loaded.entries.filter((e) => {
      const old = this.#policies.get(e.key);
      return !old || old.entry.documentText !== e.documentText || old.entry.file !== e.file || old.source !== source;
    });
    const unchanged = loaded.entries.filter((e) => !changed.includes(e)).map((e) => e.key);
    const newKeys = new Set(loaded.entries.map((e) => e.key));
    // --policy-dir owns its set: a policy whose file left the directory goes too.
    const dropped = replaceDirSet ? [...this.#policies.values()].filter((p) => p.source === 'policy-dir' && !newKeys.has(p.entry.key)) : [];
    try {
      await commitPolicyFiles(
        this.#o.stateDir,
        changed.map((e) => ({ name: policyFileName(e.key), content: renderPolicyFile({ key: e.key, file: e.file, source, appliedAt }, e.documentText) })),
        dropped.map((p) => policyFileName(p.entry.key)),
      );
    } catch (err) {
      throw writeError(err);
    }
    for (const e of changed) {
      this.#policies.set(e.key, { entry: e, source, appliedAt });
      this.#o.repository.upsertPolicy(e.policy);
    }
    for (const p of dropped) {
      this.#policies.delete(p.entry.key);
      this.#o.repository.deletePolicy(p.entry.policy.origin);
    }
    if (changed.length > 0 || dropped.length > 0) {
      this.#o.logger.info({ source, applied: changed.map((e) => e.key), deleted: dropped.map((p) => p.entry.key), unchanged: unchanged.length }, 'policies applied');
      await this.#o.onChange();
    }
    return {
      applied: loaded.entries.map((e) => this.#summary(this.#policies.get(e.key)!)),
      unchanged,
      warnings: loaded.warnings,
      skipped: loaded.skipped,
    };
  }

  async #reloadPolicyDir(sources: PolicySource[]): Promise<void> {
    try {
      await this.#exclusive(() => this.#apply(sources, 'policy-dir', true));
    } catch (err) {
      const problems = (err as PolicyStoreError).problems;
      this.#o.logger.error(
        { code: (err as PolicyStoreError).code, dir: this.#o.policyDir, problems: problems?.map(formatProblem), err: problems ? undefined : (err as Error).message },
        `policy directory not applied, nothing changed${problems ? `:\n${problems.map(formatProblem).join('\n')}` : ''}`,
      );
    }
  }

  #resolve(ref: PolicyRef): StoredPolicy {
    if (typeof ref.name !== 'string' || ref.name === '') throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_BAD_REQUEST', 'a policy reference needs a name', { httpStatus: 400 });
    if (ref.kind !== undefined && !KINDS.includes(ref.kind)) {
      throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_BAD_REQUEST', `unknown policy kind ${JSON.stringify(ref.kind)}`, { httpStatus: 400, hint: `one of ${KINDS.join(', ')}` });
    }
    const candidates = [...this.#policies.values()].filter((p) => {
      const o = p.entry.policy.origin;
      if (o.name !== ref.name || (ref.kind !== undefined && o.kind !== ref.kind)) return false;
      // Without a namespace: the default namespace's, or a cluster-wide one.
      return ref.namespace !== undefined ? o.namespace === ref.namespace : o.namespace === undefined || o.namespace === 'default';
    });
    const shown = `${ref.kind ? `${ref.kind} ` : ''}${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`;
    if (candidates.length === 0) throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_NOT_FOUND', `no applied policy ${shown}`, { hint: 'meshd policy list shows the applied policies' });
    if (candidates.length > 1) {
      throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_AMBIGUOUS', `${shown} names ${candidates.length} policies: ${candidates.map((c) => c.entry.key).join(', ')}`, {
        httpStatus: 400,
        hint: 'give the kind: KIND/NAMESPACE/NAME or --kind',
      });
    }
    return candidates[0]!;
  }

  #summary(p: StoredPolicy): PolicySummary {
    const o = p.entry.policy.origin;
    const endpoints = this.#o.repository.listEndpoints().filter((ep) => p.entry.policy.rules.some((r) => r.subject.kind === 'endpoints' && matchesSelector(r.subject.selector, ep.identityLabels))).length;
    return {
      key: p.entry.key,
      kind: o.kind,
      ...(o.namespace === undefined ? {} : { namespace: o.namespace }),
      name: o.kind === 'CiliumRuleList' ? policyDisplayName(o) : o.name,
      file: p.entry.file,
      source: p.source,
      appliedAt: p.appliedAt,
      auditMode: p.entry.auditMode,
      rules: p.entry.policy.rules.length,
      endpoints,
    };
  }

  #keyOfRule(origin: LoadedEntry['policy']['origin']): string {
    return origin.kind === 'CiliumRuleList' ? `${origin.kind}/${origin.position.file}` : `${origin.kind}/${origin.namespace ?? ''}/${origin.name}`;
  }

  #exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn, fn);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #assertOpen(): void {
    if (this.#closed) throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_BAD_REQUEST', 'the policy store is closed (the agent is stopping)');
  }
}

function checkSources(sources: unknown): asserts sources is PolicySource[] {
  if (!Array.isArray(sources) || sources.length === 0) {
    throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_BAD_REQUEST', 'an apply needs a non-empty list of sources [{file, text}]', { httpStatus: 400 });
  }
  for (const [i, s] of sources.entries()) {
    if (typeof s !== 'object' || s === null || typeof (s as PolicySource).file !== 'string' || typeof (s as PolicySource).text !== 'string') {
      throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_BAD_REQUEST', `sources[${i}] is not {file: string, text: string}`, { httpStatus: 400 });
    }
  }
}

function refFromQuery(q: URLSearchParams): PolicyRef {
  const name = q.get('name');
  if (name === null || name === '') throw new PolicyStoreError('MESHD_ERR_POLICY_STORE_BAD_REQUEST', 'the request needs ?name= (and optionally ?kind=, ?namespace=)', { httpStatus: 400 });
  const kind = q.get('kind');
  const namespace = q.get('namespace');
  return { name, ...(kind ? { kind } : {}), ...(namespace ? { namespace } : {}) };
}

function writeError(err: unknown): PolicyStoreError {
  return new PolicyStoreError('MESHD_ERR_POLICY_STORE_WRITE', `cannot save policies: ${(err as Error).message}; nothing was changed`, { cause: err, hint: 'check that the state directory is writable and the disk not full' });
}

export function formatProblem(p: PolicyProblem): string {
  return `${p.position.file}:${p.position.line}:${p.position.col}: ${p.code} ${p.message}${p.hint ? ` (hint: ${p.hint})` : ''}`;
}

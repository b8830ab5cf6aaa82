// Public entry of agent/policy-store: the running agent's applied policies and --policy-dir (issue 8).
export { PolicyStore, formatProblem } from './policy-store.js';
export type { PolicySummary, PolicyRef, ApplyResult, PolicyStoreOptions, PolicyStoreLogger } from './policy-store.js';
export { loadSourceSet, AUDIT_ANNOTATION } from './load-set.js';
export type { PolicySource, LoadedEntry, SetLoadResult } from './load-set.js';
export { readPolicyDir } from './policy-dir-watcher.js';
export { POLICIES_DIR, policiesDir, policyFileName } from './policy-files.js';
export type { PolicyOriginSource } from './policy-files.js';
export { POLICY_STORE_ERROR_CODES, PolicyStoreError } from './errors.js';
export type { PolicyStoreErrorCode } from './errors.js';

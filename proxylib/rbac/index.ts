// Envoy's RBAC filters (HTTP and network) for meshd's built-in proxy: compile the filter config
// once, then `filter.evaluate(ctx)` per request or connection. See compile-rules.ts for the
// semantics (policy order, what each permission and principal reads) and types.ts for the context.
export type { RbacContext, RbacDecision, RbacFilter } from './types.js';
export { compileHttpRbac, compileNetworkRbac, HTTP_RBAC_FILTER_NAME, NETWORK_RBAC_FILTER_NAME } from './compile-filter.js';
export { compileRules } from './compile-rules.js';
export type { CompiledRules, CompiledPolicy, Rule } from './compile-rules.js';
export { rbacContextOfRequest, stripQueryAndFragment } from './context.js';

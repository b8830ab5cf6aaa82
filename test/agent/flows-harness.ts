// Shared by the flows tests: the Star Wars example policies and endpoints (docs/examples) in a
// Repository, as the agent would hold them.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { Repository, loadPolicyText, parseEndpoints } from '../../policy/index.js';

// dist/test/agent/ → the repository's docs/examples.
const EXAMPLES = new URL('../../../docs/examples/', import.meta.url);

export function starWarsRepository(policyFiles: string[] = ['policies/deathstar-http.yaml']): Repository {
  const repo = new Repository();
  for (const f of policyFiles) {
    const file = new URL(f, EXAMPLES);
    const loaded = loadPolicyText(file.pathname, readFileSync(file, 'utf8'));
    assert.deepEqual(loaded.problems, []);
    for (const p of loaded.policies) repo.upsertPolicy(p);
  }
  const endpointsFile = new URL('endpoints.yaml', EXAMPLES);
  const parsed = parseEndpoints(endpointsFile.pathname, readFileSync(endpointsFile, 'utf8'));
  assert.deepEqual(parsed.problems, []);
  for (const e of parsed.endpoints) repo.upsertEndpoint(e);
  return repo;
}

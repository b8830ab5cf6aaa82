import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Repository, type Policy } from '../index.js';
import { ccnp, cnp, endpoint, httpRules, loadPolicies, loadText, ports, sel } from '../../test/fixtures/policy-builders.js';

/** One policy document, loaded. */
function policy(doc: Record<string, unknown>): Policy {
  const [p] = loadPolicies(doc);
  assert.ok(p);
  return p;
}

const ingressFrom = (name: string, subject: Record<string, string>, namespace = 'default') =>
  policy(cnp(name, { endpointSelector: sel(subject), ingress: [{ fromEndpoints: [sel({ app: 'client' })] }] }, namespace));

/** A repository with endpoints a1, a2 (app=a), b1 (app=b) and c1 (app=c) in `default`. */
function repoWithEndpoints(): Repository {
  const repo = new Repository();
  repo.upsertEndpoint(endpoint('default/a1', { app: 'a' }));
  repo.upsertEndpoint(endpoint('default/a2', { app: 'a' }));
  repo.upsertEndpoint(endpoint('default/b1', { app: 'b' }));
  repo.upsertEndpoint(endpoint('default/c1', { app: 'c' }));
  return repo;
}

const sorted = (ids: string[]) => [...ids].sort();

test('an endpoint no policy selects is default-deny in neither direction', () => {
  const repo = repoWithEndpoints();
  const p = repo.endpointPolicy('default/a1');
  assert.ok(p);
  assert.equal(p.ingress.isDefaultDeny, false);
  assert.equal(p.egress.isDefaultDeny, false);
  assert.deepEqual(p.ingress.entries, []);
  assert.deepEqual(p.egress.entries, []);
});

test('upsertPolicy returns only the endpoints the policy selects', () => {
  const repo = repoWithEndpoints();
  assert.deepEqual(sorted(repo.upsertPolicy(ingressFrom('p', { app: 'a' }))), ['default/a1', 'default/a2']);
});

test('a policy that selects no endpoint affects none', () => {
  const repo = repoWithEndpoints();
  assert.deepEqual(repo.upsertPolicy(ingressFrom('p', { app: 'nobody' })), []);
});

test('replacing a policy with one that selects other endpoints affects the old and the new ones', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  assert.deepEqual(sorted(repo.upsertPolicy(ingressFrom('p', { app: 'b' }))), ['default/a1', 'default/a2', 'default/b1']);
  assert.equal(repo.endpointPolicy('default/a1')!.ingress.isDefaultDeny, false, 'a1 is no longer selected');
  assert.equal(repo.endpointPolicy('default/b1')!.ingress.isDefaultDeny, true, 'b1 is selected now');
  assert.equal(repo.listPolicies().length, 1, 'the same kind/namespace/name replaces, not adds');
});

test('the same policy name in another namespace is another policy', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }, 'other'));
  assert.equal(repo.listPolicies().length, 2);
});

test('deletePolicy returns the endpoints it selected and they stop being default-deny', () => {
  const repo = repoWithEndpoints();
  const p = ingressFrom('p', { app: 'a' });
  repo.upsertPolicy(p);
  assert.equal(repo.endpointPolicy('default/a1')!.ingress.isDefaultDeny, true);
  assert.deepEqual(sorted(repo.deletePolicy(p.origin)), ['default/a1', 'default/a2']);
  assert.equal(repo.endpointPolicy('default/a1')!.ingress.isDefaultDeny, false);
  assert.deepEqual(repo.listPolicies(), []);
});

test('deleting a policy the repository does not hold affects nothing', () => {
  const repo = repoWithEndpoints();
  assert.deepEqual(repo.deletePolicy(ingressFrom('ghost', { app: 'a' }).origin), []);
});

test('an endpoint added after the policies picks them up', () => {
  const repo = new Repository();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  repo.upsertEndpoint(endpoint('default/late', { app: 'a' }));
  const p = repo.endpointPolicy('default/late')!;
  assert.equal(p.ingress.isDefaultDeny, true);
  assert.deepEqual(p.ingress.rules.map((r) => r.origin.name), ['p']);
});

test('a CNP only affects endpoints of its own namespace', () => {
  const repo = repoWithEndpoints();
  repo.upsertEndpoint(endpoint('other/a1', { app: 'a' }));
  assert.deepEqual(sorted(repo.upsertPolicy(ingressFrom('p', {}, 'other'))), ['other/a1']);
});

test('a CCNP with endpointSelector {} affects endpoints of every namespace', () => {
  const repo = repoWithEndpoints();
  repo.upsertEndpoint(endpoint('other/x', { app: 'x' }));
  const ids = repo.upsertPolicy(policy(ccnp('all', { endpointSelector: {}, ingress: [{}] })));
  assert.deepEqual(sorted(ids), ['default/a1', 'default/a2', 'default/b1', 'default/c1', 'other/x']);
});

test('endpointPolicy is cached: the same object until something affects the endpoint', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  const first = repo.endpointPolicy('default/a1');
  assert.equal(repo.endpointPolicy('default/a1'), first);
});

test('a policy update invalidates the affected endpoints only', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  const a1 = repo.endpointPolicy('default/a1');
  const b1 = repo.endpointPolicy('default/b1');
  const c1 = repo.endpointPolicy('default/c1');
  repo.upsertPolicy(ingressFrom('q', { app: 'b' }));
  assert.equal(repo.endpointPolicy('default/a1'), a1, 'a1 is not selected by q');
  assert.equal(repo.endpointPolicy('default/c1'), c1, 'c1 is not selected by q');
  const b1After = repo.endpointPolicy('default/b1');
  assert.notEqual(b1After, b1, 'b1 is re-resolved');
  assert.equal(b1After!.ingress.isDefaultDeny, true);
});

test('deleting a policy invalidates only the endpoints it selected', () => {
  const repo = repoWithEndpoints();
  const p = ingressFrom('p', { app: 'a' });
  repo.upsertPolicy(p);
  const a1 = repo.endpointPolicy('default/a1');
  const b1 = repo.endpointPolicy('default/b1');
  repo.deletePolicy(p.origin);
  assert.notEqual(repo.endpointPolicy('default/a1'), a1);
  assert.equal(repo.endpointPolicy('default/b1'), b1);
});

test('changing only a policy’s peers re-resolves the endpoints it selects with the new peers', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  const before = repo.endpointPolicy('default/a1')!;
  const ids = repo.upsertPolicy(policy(cnp('p', { endpointSelector: sel({ app: 'a' }), ingress: [{ fromEndpoints: [sel({ app: 'b' })] }] })));
  assert.deepEqual(sorted(ids), ['default/a1', 'default/a2']);
  const after = repo.endpointPolicy('default/a1')!;
  assert.notEqual(after, before);
  const peers = after.ingress.entries.filter((e) => e.origin.kind === 'rule').flatMap((e) => e.peers ?? []);
  assert.ok(peers.some((s) => s.requirements.some((r) => r.key === 'app' && r.values.includes('b'))), 'the new peer selector is in force');
  assert.ok(!peers.some((s) => s.requirements.some((r) => r.key === 'app' && r.values.includes('client'))), 'the old one is gone');
});

test('upsertEndpoint with new labels moves the endpoint to the policies that select it now', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  const before = repo.endpointPolicy('default/c1')!;
  assert.equal(before.ingress.isDefaultDeny, false);
  repo.upsertEndpoint(endpoint('default/c1', { app: 'a' }));
  const after = repo.endpointPolicy('default/c1')!;
  assert.notEqual(after, before);
  assert.equal(after.ingress.isDefaultDeny, true);
  repo.upsertEndpoint(endpoint('default/c1', { app: 'c' }));
  assert.equal(repo.endpointPolicy('default/c1')!.ingress.isDefaultDeny, false);
});

test('a deleted endpoint has no policy and is no longer listed', () => {
  const repo = repoWithEndpoints();
  repo.deleteEndpoint('default/a1');
  assert.equal(repo.endpointPolicy('default/a1'), undefined);
  assert.equal(repo.getEndpoint('default/a1'), undefined);
  assert.deepEqual(sorted(repo.listEndpoints().map((e) => e.id)), ['default/a2', 'default/b1', 'default/c1']);
});

test('policies added after a delete do not report the deleted endpoint', () => {
  const repo = repoWithEndpoints();
  repo.deleteEndpoint('default/a1');
  assert.deepEqual(repo.upsertPolicy(ingressFrom('p', { app: 'a' })), ['default/a2']);
});

test('resolveAll resolves every endpoint once', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  const all = repo.resolveAll();
  assert.deepEqual(sorted(all.map((p) => p.endpoint.id)), ['default/a1', 'default/a2', 'default/b1', 'default/c1']);
  assert.equal(all.find((p) => p.endpoint.id === 'default/a1'), repo.endpointPolicy('default/a1'));
});

test('the revision grows with every change and is recorded in each resolved policy', () => {
  const repo = repoWithEndpoints();
  const r0 = repo.revision;
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  const r1 = repo.revision;
  assert.ok(r1 > r0);
  assert.equal(repo.endpointPolicy('default/a1')!.revision, r1);
});

test('an ingress rule makes ingress default-deny and leaves egress alone', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(ingressFrom('p', { app: 'a' }));
  const p = repo.endpointPolicy('default/a1')!;
  assert.equal(p.ingress.isDefaultDeny, true);
  assert.equal(p.egress.isDefaultDeny, false);
  assert.deepEqual(p.egress.rules, []);
});

test('an ingress default-deny endpoint gets the allow-localhost entry unless it is turned off', () => {
  const withLocalhost = repoWithEndpoints();
  withLocalhost.upsertPolicy(ingressFrom('p', { app: 'a' }));
  assert.ok(withLocalhost.endpointPolicy('default/a1')!.ingress.entries.some((e) => e.origin.kind === 'allow-localhost'));
  assert.ok(!withLocalhost.endpointPolicy('default/b1')!.ingress.entries.some((e) => e.origin.kind === 'allow-localhost'), 'not for endpoints without policy');

  const without = new Repository({ allowLocalhost: false });
  without.upsertEndpoint(endpoint('default/a1', { app: 'a' }));
  without.upsertPolicy(ingressFrom('p', { app: 'a' }));
  assert.ok(!without.endpointPolicy('default/a1')!.ingress.entries.some((e) => e.origin.kind === 'allow-localhost'));
});

test('a port rule resolves to an entry keyed by protocol and port range, with its L7 rules', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(policy(cnp('p', { endpointSelector: sel({ app: 'a' }), ingress: [{ toPorts: [ports('80/TCP', httpRules({ method: 'GET' })), ports('8000-8010/UDP')] }] })));
  const entries = repo.endpointPolicy('default/a1')!.ingress.entries.filter((e) => e.origin.kind === 'rule');
  assert.deepEqual(
    entries.map((e) => [e.protocol, e.portStart, e.portEnd, e.isDeny, e.peers, e.l7?.type]),
    [
      ['TCP', 80, 80, false, undefined, 'http'],
      ['UDP', 8000, 8010, false, undefined, undefined],
    ],
  );
});

test('an ingress named port resolves against each selected endpoint’s own ports', () => {
  const repo = new Repository();
  repo.upsertEndpoint(endpoint('default/web1', { app: 'web' }, { namedPorts: { http: 8080 } }));
  repo.upsertEndpoint(endpoint('default/web2', { app: 'web' }, { namedPorts: { http: 9090 } }));
  repo.upsertEndpoint(endpoint('default/web3', { app: 'web' }));
  repo.upsertPolicy(policy(cnp('p', { endpointSelector: sel({ app: 'web' }), ingress: [{ toPorts: [ports('http/TCP')] }] })));
  const portsOf = (id: string) => repo.endpointPolicy(id)!.ingress.entries.filter((e) => e.origin.kind === 'rule').map((e) => e.portStart);
  assert.deepEqual(portsOf('default/web1'), [8080]);
  assert.deepEqual(portsOf('default/web2'), [9090]);
  assert.deepEqual(portsOf('default/web3'), [], 'no such named port: nothing allowed, still default-deny');
  assert.equal(repo.endpointPolicy('default/web3')!.ingress.isDefaultDeny, true);
});

test('deny rules resolve to deny entries', () => {
  const repo = repoWithEndpoints();
  repo.upsertPolicy(policy(cnp('p', { endpointSelector: sel({ app: 'a' }), egressDeny: [{ toEntities: ['world'], toPorts: [ports('25/TCP')] }] })));
  const p = repo.endpointPolicy('default/a1')!;
  assert.equal(p.egress.isDefaultDeny, true, 'a deny-only direction is default-deny');
  assert.deepEqual(p.egress.entries.map((e) => [e.isDeny, e.protocol, e.portStart]), [[true, 'TCP', 25]]);
});

test('a bare rule list from one file replaces the earlier list from that file', () => {
  const repo = repoWithEndpoints();
  const list = (app: string) => {
    const [p] = loadText(JSON.stringify([{ endpointSelector: { matchLabels: { app } }, ingress: [{}] }]), 'rules.json');
    assert.ok(p);
    return p;
  };
  repo.upsertPolicy(list('a'));
  assert.deepEqual(sorted(repo.upsertPolicy(list('b'))), ['default/a1', 'default/a2', 'default/b1']);
  assert.equal(repo.listPolicies().length, 1);
});

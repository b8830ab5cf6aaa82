#!/usr/bin/env node
// Runs node's test runner on the compiled tests (tsc emits dist/ from the *.test.ts sources).
// Node 20's `--test` takes no globs, so the file list is built here.
//   unit   — every *.test.js beside its module (policy/, agent/, ...), except the suites below
//   corpus — test/corpus/*.test.js: every policy of ../shared/corpus loads or is rejected clearly
//   fuzz   — test/fuzz/*.test.js: bounded mutation fuzzing of the parsers
//   bpf    — bpf/**/*.test.js and test/datapath/: the kernel datapath on real pods (root, BPF)
//   xds    — xds/**/*.test.js and test/xds/: the control plane, its protocol suite and real clients
//   proxy  — proxylib/**/*.test.js and test/proxy/: the built-in proxy, its codecs and real clients
//            (except Kafka)
//   kafka  — proxylib/kafka/**/*.test.js and test/kafka/: the Kafka codecs, filter, fixture broker and
//            real clients (kafkajs, kcat)
//   dns    — proxylib/dns/**/*.test.js and test/dns/: the DNS proxy with dnsmasq, dig and pods
//   agent  — test/agent/: the `meshd agent` daemon and its CLI on real pods (root, BPF)
//   cluster — test/cluster/, agent/cluster/, agent/k8s/: etcd-backed cluster state (a real etcd), the
//            Kubernetes watcher and manifests, several nodes on one machine
//   e2e    — test/e2e/: the Star Wars scenario of `make demo`, asserted row by row (root, BPF)
//   all    — all of the above
import { readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const dist = join(root, 'dist');
const suite = process.argv[2] ?? 'unit';
const filter = process.argv[3];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (name.endsWith('.test.js')) out.push(p);
  }
  return out;
}

const all = walk(dist).map((p) => relative(root, p)).sort();
const isCorpus = (p) => p.startsWith('dist/test/corpus/');
const isFuzz = (p) => p.startsWith('dist/test/fuzz/');
const isBpf = (p) => p.startsWith('dist/bpf/') || p.startsWith('dist/test/datapath/');
const isXds = (p) => p.startsWith('dist/xds/') || p.startsWith('dist/test/xds/');
const isKafka = (p) => p.startsWith('dist/proxylib/kafka/') || p.startsWith('dist/test/kafka/');
const isDns = (p) => p.startsWith('dist/proxylib/dns/') || p.startsWith('dist/test/dns/');
const isAgent = (p) => p.startsWith('dist/test/agent/');
const isE2e = (p) => p.startsWith('dist/test/e2e/');
const isCluster = (p) => p.startsWith('dist/test/cluster/') || p.startsWith('dist/agent/cluster/') || p.startsWith('dist/agent/k8s/');
const isProxy = (p) => !isKafka(p) && !isDns(p) && (p.startsWith('dist/proxylib/') || p.startsWith('dist/test/proxy/'));
const pick = {
  unit: (p) => !isCorpus(p) && !isFuzz(p) && !isBpf(p) && !isXds(p) && !isProxy(p) && !isKafka(p) && !isDns(p) && !isAgent(p) && !isE2e(p) && !isCluster(p),
  corpus: isCorpus,
  fuzz: isFuzz,
  bpf: isBpf,
  xds: isXds,
  proxy: isProxy,
  kafka: isKafka,
  dns: isDns,
  agent: isAgent,
  e2e: isE2e,
  cluster: isCluster,
  all: () => true,
}[suite];
if (!pick) {
  console.error(`usage: run-tests.mjs unit|corpus|fuzz|bpf|xds|proxy|kafka|dns|agent|e2e|cluster|all [substring]`);
  process.exit(2);
}
const files = all.filter(pick).filter((p) => !filter || p.includes(filter));
if (files.length === 0) {
  console.error(`run-tests: no ${suite} tests found under dist/ (did the build run?)`);
  process.exit(1);
}
const r = spawnSync(process.execPath, ['--enable-source-maps', '--test', '--test-reporter=spec', ...files], {
  cwd: root,
  stdio: 'inherit',
});
process.exit(r.status ?? 1);

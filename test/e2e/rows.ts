// The rows of the Star Wars scenario: per stage of docs/examples/live, each request, what the
// policies intend (verdict, deciding layer, deciding policy) and how to make it.
import { join } from 'node:path';
import { EMPIRE_GRPC_PORT } from '../fixtures/demo-apps/index.js';
import { connectIp, dig, grpc, http, kafkaConsume, kafkaProduce, resolveAndConnect, type Attempt, type ScenarioPods } from './clients.js';
import type { Decision } from './flows.js';
import { REPO_ROOT } from './meshd-cli.js';

export const LIVE_POLICIES = join(REPO_ROOT, 'docs/examples/live');
export const STAGES = {
  l3l4: join(LIVE_POLICIES, '1-l3l4'),
  l7: join(LIVE_POLICIES, '2-l7'),
  lockdown: join(LIVE_POLICIES, '3-lockdown'),
} as const;
export type Stage = keyof typeof STAGES;

export interface DemoRow {
  stage: Stage;
  from: 'tiefighter' | 'xwing';
  request: string;
  expect: 'allowed' | 'denied';
  layer: 'kernel' | 'proxy';
  /** What the deciding flow names: a policy (namespace/name), or default-deny when no rule allows the peer. */
  policy?: string;
  destinationPort: number;
  run(w: ScenarioPods): Promise<Attempt>;
}

export interface RowResult {
  row: DemoRow;
  attempt: Attempt;
  decision: Decision | undefined;
  /** The verdict is the intended one and the layer that decided is the intended one. */
  ok: boolean;
  problems: string[];
  startMs: number;
  endMs: number;
}

export const DEMO_ROWS: DemoRow[] = [
  // Stage 1: L3/L4.
  { stage: 'l3l4', from: 'tiefighter', request: 'POST /v1/request-landing', expect: 'allowed', layer: 'kernel', policy: 'empire/deathstar', destinationPort: 80, run: (w) => http(w, 'tiefighter', 'POST', '/v1/request-landing') },
  { stage: 'l3l4', from: 'xwing', request: 'POST /v1/request-landing', expect: 'denied', layer: 'kernel', policy: 'default-deny', destinationPort: 80, run: (w) => http(w, 'xwing', 'POST', '/v1/request-landing') },
  { stage: 'l3l4', from: 'tiefighter', request: 'PUT /v1/exhaust-port (L3/L4 cannot tell)', expect: 'allowed', layer: 'kernel', policy: 'empire/deathstar', destinationPort: 80, run: (w) => http(w, 'tiefighter', 'PUT', '/v1/exhaust-port') },
  // Stage 2: L7 HTTP, gRPC, Kafka, DNS and toFQDNs.
  { stage: 'l7', from: 'tiefighter', request: 'GET /v1', expect: 'allowed', layer: 'proxy', policy: 'empire/deathstar', destinationPort: 80, run: (w) => http(w, 'tiefighter', 'GET', '/v1') },
  { stage: 'l7', from: 'tiefighter', request: 'POST /v1/request-landing', expect: 'allowed', layer: 'proxy', policy: 'empire/deathstar', destinationPort: 80, run: (w) => http(w, 'tiefighter', 'POST', '/v1/request-landing') },
  { stage: 'l7', from: 'tiefighter', request: 'PUT /v1/exhaust-port', expect: 'denied', layer: 'proxy', policy: 'empire/deathstar', destinationPort: 80, run: (w) => http(w, 'tiefighter', 'PUT', '/v1/exhaust-port') },
  { stage: 'l7', from: 'xwing', request: 'POST /v1/request-landing', expect: 'denied', layer: 'kernel', policy: 'default-deny', destinationPort: 80, run: (w) => http(w, 'xwing', 'POST', '/v1/request-landing') },
  { stage: 'l7', from: 'tiefighter', request: 'gRPC empire.Empire/RequestLanding', expect: 'allowed', layer: 'proxy', policy: 'empire/deathstar', destinationPort: EMPIRE_GRPC_PORT, run: (w) => grpc(w, 'tiefighter', 'RequestLanding') },
  { stage: 'l7', from: 'tiefighter', request: 'gRPC empire.Empire/ExhaustPort', expect: 'denied', layer: 'proxy', policy: 'empire/deathstar', destinationPort: EMPIRE_GRPC_PORT, run: (w) => grpc(w, 'tiefighter', 'ExhaustPort') },
  { stage: 'l7', from: 'xwing', request: 'gRPC empire.Empire/RequestLanding', expect: 'denied', layer: 'kernel', policy: 'default-deny', destinationPort: EMPIRE_GRPC_PORT, run: (w) => grpc(w, 'xwing', 'RequestLanding') },
  { stage: 'l7', from: 'tiefighter', request: 'kafka produce empire-announce', expect: 'allowed', layer: 'proxy', policy: 'empire/empire-kafka', destinationPort: 9092, run: (w) => kafkaProduce(w, 'tiefighter', 'empire-announce') },
  { stage: 'l7', from: 'tiefighter', request: 'kafka produce deathstar-plans', expect: 'denied', layer: 'proxy', policy: 'empire/empire-kafka', destinationPort: 9092, run: (w) => kafkaProduce(w, 'tiefighter', 'deathstar-plans') },
  { stage: 'l7', from: 'tiefighter', request: 'kafka consume deathstar-plans', expect: 'allowed', layer: 'proxy', policy: 'empire/empire-kafka', destinationPort: 9092, run: (w) => kafkaConsume(w, 'tiefighter', 'deathstar-plans') },
  { stage: 'l7', from: 'xwing', request: 'kafka consume deathstar-plans', expect: 'denied', layer: 'kernel', policy: 'default-deny', destinationPort: 9092, run: (w) => kafkaConsume(w, 'xwing', 'deathstar-plans') },
  { stage: 'l7', from: 'tiefighter', request: 'dig api.empire.gov', expect: 'allowed', layer: 'proxy', policy: 'empire/tiefighter-egress', destinationPort: 53, run: (w) => dig(w, 'tiefighter', 'api.empire.gov') },
  { stage: 'l7', from: 'tiefighter', request: 'dig www.empire.gov (CNAME)', expect: 'allowed', layer: 'proxy', policy: 'empire/tiefighter-egress', destinationPort: 53, run: (w) => dig(w, 'tiefighter', 'www.empire.gov') },
  { stage: 'l7', from: 'tiefighter', request: 'dig rebel-base.org', expect: 'denied', layer: 'proxy', policy: 'empire/tiefighter-egress', destinationPort: 53, run: (w) => dig(w, 'tiefighter', 'rebel-base.org') },
  { stage: 'l7', from: 'tiefighter', request: 'getaddrinfo + connect api.empire.gov:443', expect: 'allowed', layer: 'kernel', policy: 'empire/tiefighter-egress', destinationPort: 443, run: (w) => resolveAndConnect(w, 'tiefighter', 'api.empire.gov', 443) },
  { stage: 'l7', from: 'tiefighter', request: "connect rebel-base.org's IP :443", expect: 'denied', layer: 'kernel', policy: 'default-deny', destinationPort: 443, run: (w) => connectIp(w, 'tiefighter', w.addresses.rebelIp, 443) },
  // Stage 3: lockdown, applied while traffic flows.
  { stage: 'lockdown', from: 'tiefighter', request: 'GET /v1', expect: 'denied', layer: 'proxy', policy: 'empire/deathstar', destinationPort: 80, run: (w) => http(w, 'tiefighter', 'GET', '/v1') },
  { stage: 'lockdown', from: 'tiefighter', request: 'POST /v1/request-landing', expect: 'allowed', layer: 'proxy', policy: 'empire/deathstar', destinationPort: 80, run: (w) => http(w, 'tiefighter', 'POST', '/v1/request-landing') },
];

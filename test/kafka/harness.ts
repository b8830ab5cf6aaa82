// The Kafka policy harness of the end-to-end suite: policy goes the product's way — CiliumNetworkPolicy
// YAML with kafka rules → policy engine (Repository, identities) → translateNode for the built-in
// proxy → meshd's xDS server → BuiltinProxy, configured only by xDS bytes over the wire — and real
// clients (harness-clients.ts) talk through the proxy to fixture brokers (test/fixtures/kafka-broker).
//
// Addresses. Pods live on loopback, 127.0.<subnet>.N, so a kafkajs client can bind its pod's address
// (socketFactory) and the proxy sees the real peer. Each broker pod's fixture broker listens on its pod
// address at `brokerPort` (the port the policy names); the proxy has one listener per broker pod on
// 127.0.0.1, and its original-destination resolver plays the datapath: a connection to that listener
// "was for" the broker pod. Each broker advertises the proxy's listener (fixture option `advertised`)
// in Metadata and FindCoordinator, so the client's later connections come back through the proxy.
//
// Identities. The policies are ingress policies on the broker pods: the peer is the connection's
// source, resolved through the ipcache the translation used. kcat (librdkafka) cannot bind a source
// address, so its connections come from 127.0.0.1; `loopbackPlays(pod)` says which client pod
// 127.0.0.1 stands for (the identity resolver maps it to that pod's identity). An egress policy would
// not work for kcat: its filter chains match on the client pod's source address, which kcat cannot set.
//
// Everything started is ended by close(), even when a test fails half-way: the proxy and xDS server
// (ProxyHarness), the brokers, the flow subscription.
import { setTimeout as sleep } from 'node:timers/promises';
import type { EndpointSpec } from '../../policy/index.js';
import { TYPE_URL } from '../../xds/index.js';
import { subscribeFlows, type FlowRecord, type KafkaFlowRecord } from '../../proxylib/index.js';
import { KafkaFixtureBroker, type KafkaFixtureBrokerOptions } from '../fixtures/kafka-broker/index.js';
import { ProxyHarness, findFreePort, pod, translatePolicies, type PolicyNode } from '../proxy/harness.js';
import { kafkajsClient, type KafkajsClientOptions, type KafkajsHandle } from './harness-clients.js';

export { pod };

type BrokerOptions = Omit<KafkaFixtureBrokerOptions, 'host' | 'port' | 'advertised'>;

export interface KafkaPolicyHarnessOptions {
  /** Policy YAML files, given the port the brokers listen on (the port the rules name). */
  policies: (brokerPort: number) => Array<{ name: string; text: string }>;
  /** Every pod (clients and brokers), addresses on loopback. */
  pods: EndpointSpec[];
  /** The broker pods (`namespace/name`), each with its fixture broker's options. */
  brokers: Array<{ pod: string; options?: BrokerOptions }>;
  /** The pod 127.0.0.1 stands for at the start (kcat's source address); none = world. */
  loopbackPod?: string;
}

interface BrokerSlot {
  pod: string;
  ip: string;
  proxyPort: number;
  broker: KafkaFixtureBroker;
}

export class KafkaPolicyHarness {
  readonly flows: KafkaFlowRecord[] = [];
  private readonly slots = new Map<string, BrokerSlot>();
  private loopbackIdentity: number | undefined;
  private unsubscribe: () => void = () => {};

  private constructor(
    readonly proxyHarness: ProxyHarness,
    readonly node: PolicyNode,
    readonly brokerPort: number,
    private readonly pods: EndpointSpec[],
    private readonly identityByIp: Map<string, number>,
  ) {}

  static async start(opts: KafkaPolicyHarnessOptions): Promise<KafkaPolicyHarness> {
    const h = await ProxyHarness.start({ nodeId: 'kafka-e2e' });
    let harness: KafkaPolicyHarness | undefined;
    try {
      const brokerPort = await findFreePort();
      const proxyPorts = new Map<string, number>();
      for (const b of opts.brokers) proxyPorts.set(b.pod, await findFreePort());
      const node = translatePolicies(opts.policies(brokerPort), opts.pods, (key) =>
        key.l7 === 'kafka' && key.direction === 'ingress' ? proxyPorts.get(key.endpoint) : undefined,
      );
      const t = node.translation;
      const kafkaRedirects = t.redirects.filter((r) => r.key.l7 === 'kafka');
      for (const b of opts.brokers) {
        if (!kafkaRedirects.some((r) => r.key.endpoint === b.pod && r.key.portStart <= brokerPort && r.key.portEnd >= brokerPort)) {
          throw new Error(`the policies yield no Kafka redirect for ${b.pod}:${brokerPort} (redirects ${JSON.stringify(t.redirects.map((r) => r.key))}, skipped ${JSON.stringify(t.skipped)}, warnings ${JSON.stringify(t.warnings)})`);
        }
      }
      const identityByIp = new Map(node.ipcache.map((e) => [e.prefix.split('/')[0]!, e.identity]));
      harness = new KafkaPolicyHarness(h, node, brokerPort, opts.pods, identityByIp);
      const hh = harness;
      hh.unsubscribe = subscribeFlows((r: FlowRecord) => {
        if (r.type === 'kafka' && [...hh.slots.values()].some((s) => s.proxyPort === localPortOf(r) || (r.destination.ip === s.ip && r.destination.port === brokerPort))) hh.flows.push(r);
      });
      h.cleanup.add(async () => hh.unsubscribe());
      if (opts.loopbackPod) hh.loopbackPlays(opts.loopbackPod);

      for (const b of opts.brokers) {
        const ip = hh.ipOf(b.pod);
        const proxyPort = proxyPorts.get(b.pod)!;
        const broker = await KafkaFixtureBroker.start({ ...b.options, host: ip, port: brokerPort, advertised: { host: '127.0.0.1', port: proxyPort } });
        const slot: BrokerSlot = { pod: b.pod, ip, proxyPort, broker };
        hh.slots.set(b.pod, slot);
        // The slot's broker may be replaced (replaceBroker): close whichever is current.
        h.cleanup.add(() => slot.broker.close());
      }

      const version = h.setSnapshot({ listeners: t.listeners, routes: t.routes, clusters: t.clusters, endpoints: t.endpoints, secrets: t.secrets });
      const brokerOfProxyPort = new Map([...hh.slots.values()].map((s) => [s.proxyPort, s]));
      await h.startProxy({
        // The datapath's part: a connection to a broker pod's proxy listener was for that broker pod.
        originalDestination: ({ local }) => {
          const slot = brokerOfProxyPort.get(local.port);
          return slot ? { address: slot.ip, port: brokerPort } : undefined;
        },
        identityOf: (ip: string) => (ip === '127.0.0.1' ? hh.loopbackIdentity : identityByIp.get(ip)),
      });
      await h.waitForAck(TYPE_URL.listener, version, 15_000);
      return hh;
    } catch (err) {
      await (harness ? harness.close() : h.close());
      throw err;
    }
  }

  /** A pod's (first) address. */
  ipOf(podId: string): string {
    const e = this.pods.find((p) => `${p.namespace}/${p.name}` === podId);
    if (!e || !e.ips[0]) throw new Error(`no pod ${podId}`);
    return e.ips[0];
  }

  identityOf(podId: string): number {
    const id = this.identityByIp.get(this.ipOf(podId));
    if (id === undefined) throw new Error(`no identity for ${podId}`);
    return id;
  }

  /** From now on, connections from 127.0.0.1 (kcat) carry this pod's identity. */
  loopbackPlays(podId: string): void {
    this.loopbackIdentity = this.identityOf(podId);
  }

  private slot(brokerPod: string): BrokerSlot {
    const s = this.slots.get(brokerPod);
    if (!s) throw new Error(`no broker pod ${brokerPod}`);
    return s;
  }

  /** The fixture broker of a broker pod (for records() and requestsSeen()). */
  broker(brokerPod: string): KafkaFixtureBroker {
    return this.slot(brokerPod).broker;
  }

  /** `127.0.0.1:<proxy port>`: where clients of this broker pod bootstrap (and what the broker advertises). */
  bootstrap(brokerPod: string): string {
    return `127.0.0.1:${this.slot(brokerPod).proxyPort}`;
  }

  /** Closes a broker pod's fixture broker and starts a new one, same address, other options. */
  async replaceBroker(brokerPod: string, options: BrokerOptions): Promise<KafkaFixtureBroker> {
    const s = this.slot(brokerPod);
    await s.broker.close();
    s.broker = await KafkaFixtureBroker.start({ ...options, host: s.ip, port: this.brokerPort, advertised: { host: '127.0.0.1', port: s.proxyPort } });
    return s.broker;
  }

  /** A kafkajs client of a broker pod, connecting from a client pod's address. */
  kafkajs(brokerPod: string, from: string, opts: Omit<KafkajsClientOptions, 'bootstrap' | 'localAddress'>): KafkajsHandle {
    return kafkajsClient({ ...opts, bootstrap: this.bootstrap(brokerPod), localAddress: this.ipOf(from) });
  }

  /** The flow records from `mark` (an earlier `flows.length`) on. */
  flowsSince(mark: number): KafkaFlowRecord[] {
    return this.flows.slice(mark);
  }

  /**
   * Waits (bounded) until `predicate` holds over the records from `mark` on, and returns them
   * either way: a record is published when its request is answered, which may trail the client.
   */
  async flowsUntil(mark: number, predicate: (flows: KafkaFlowRecord[]) => boolean, timeoutMs = 3000): Promise<KafkaFlowRecord[]> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && !predicate(this.flowsSince(mark))) await sleep(20);
    return this.flowsSince(mark);
  }

  async close(): Promise<void> {
    await this.proxyHarness.close();
  }
}

/** One line per flow record, for failure messages. */
export function describeFlow(f: KafkaFlowRecord): string {
  return `${f.verdict} ${f.kafka.apiName} v${f.kafka.apiVersion} client=${f.kafka.clientId} topics=${f.kafka.topics.join(',')} groups=${f.kafka.groups.join(',')} reason=${f.reason} error=${f.kafka.errorCode} policy=${f.policy} source=${f.source.ip}:${f.source.port}`;
}

/** The proxy's listener port is in the record's listener name (`meshd/tcp/<port>`), when it is. */
function localPortOf(r: KafkaFlowRecord): number | undefined {
  const m = /\/(\d+)$/.exec(r.listener);
  return m ? Number(m[1]) : undefined;
}

/** Pods of the Empire's Kafka scenario on 127.0.<subnet>.0/24 (one subnet per test file: files run concurrently). */
export function empirePods(subnet: number): EndpointSpec[] {
  const ip = (n: number) => `127.0.${subnet}.${n}`;
  return [
    pod('kafka', 'empire', { app: 'kafka', generation: 'current' }, ip(20)),
    pod('kafka-legacy', 'empire', { app: 'kafka', generation: 'legacy' }, ip(30)),
    pod('empire-hq', 'empire', { app: 'empire-hq' }, ip(21)),
    pod('empire-outpost', 'empire', { app: 'empire-outpost' }, ip(22)),
    pod('imperial-audit', 'empire', { app: 'imperial-audit' }, ip(23)),
    pod('legacy-client', 'empire', { app: 'legacy-client' }, ip(24)),
    pod('xwing', 'alliance', { org: 'alliance', class: 'xwing' }, ip(12)),
  ];
}

export const KAFKA = 'empire/kafka';
export const KAFKA_LEGACY = 'empire/kafka-legacy';
export const HQ = 'empire/empire-hq';
export const OUTPOST = 'empire/empire-outpost';
export const AUDIT = 'empire/imperial-audit';
export const LEGACY_CLIENT = 'empire/legacy-client';
export const XWING = 'alliance/xwing';

/** The Produce version the legacy broker caps (fixture option maxVersions), which the apiVersion rule names. */
export const LEGACY_PRODUCE_VERSION = 3;

/**
 * The Empire's Kafka policy (docs/examples/policies/kafka-topics.yaml, extended): one ingress policy
 * on every `app: kafka` pod, a rule per client pod, exercising every kind of kafka rule —
 * role + topic (Cilium), topicPrefix and groupID (meshd's extensions), clientID, apiKey + apiVersion.
 */
export function empireKafkaPolicy(port: number): { name: string; text: string } {
  const toPorts = (rules: string) => `
      toPorts:
        - ports:
            - port: "${port}"
              protocol: TCP
          rules:
            kafka:
${rules}`;
  return {
    name: 'empire-kafka.yaml',
    text: `apiVersion: cilium.io/v2
kind: CiliumNetworkPolicy
metadata:
  name: empire-kafka
  namespace: empire
spec:
  endpointSelector:
    matchLabels:
      app: kafka
  ingress:
    # Headquarters produces the plans and fleet telemetry, reads announcements.
    - fromEndpoints:
        - matchLabels:
            app: empire-hq
${toPorts(`              - role: produce
                topic: deathstar-plans
              - role: consume
                topic: empire-announce
              - role: produce
                topicPrefix: "fleet."`)}
    # Outposts read the plans, only in their consumer group, and post announcements.
    - fromEndpoints:
        - matchLabels:
            app: empire-outpost
${toPorts(`              - role: consume
                topic: deathstar-plans
                groupID: outposts
              - role: produce
                topic: empire-announce`)}
    # The auditor writes the audit log, and only under its own client id.
    - fromEndpoints:
        - matchLabels:
            app: imperial-audit
${toPorts(`              - role: produce
                topic: audit-log
                clientID: imperial-auditor`)}
    # A legacy client: Produce only at version ${LEGACY_PRODUCE_VERSION}, plus what it needs to bootstrap.
    - fromEndpoints:
        - matchLabels:
            app: legacy-client
${toPorts(`              - apiKey: apiversions
              - apiKey: metadata
              - apiKey: produce
                apiVersion: ${LEGACY_PRODUCE_VERSION}
                topic: legacy-orders`)}
`,
  };
}

// The agent's Prometheus metrics: its own prom-client Registry (never the global one, so two
// agents in one test process, or a library user, do not share counters), with narrow record*/set*
// methods the rest of the agent calls, and `serve` for GET /metrics on localhost.
import { createServer, type Server } from 'node:http';
import { isIP } from 'node:net';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { Flow } from '../flows/index.js';
import { MetricsError } from './errors.js';

/** Seconds; L7 requests on a node are sub-millisecond to seconds. */
const L7_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const COMPUTE_BUCKETS = [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5];
/** The DNS hold is bounded by --dns-response-max-delay (100 ms by default). */
const HOLD_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];

export type BpfMapEntriesSource = () => Iterable<{ map: string; entries: number }> | Promise<Iterable<{ map: string; entries: number }>>;

export class AgentMetrics {
  readonly registry = new Registry();
  readonly #flows: Counter<'verdict' | 'protocol' | 'layer'>;
  readonly #l7Duration: Histogram<'protocol' | 'verdict'>;
  readonly #xdsPush: Histogram;
  readonly #xdsNacks: Counter<'node'>;
  readonly #policyCompute: Histogram;
  readonly #dnsQueries: Counter<'rcode'>;
  readonly #dnsHold: Histogram<'outcome'>;
  #bpfSource: BpfMapEntriesSource | undefined;

  constructor() {
    const registers = [this.registry];
    this.#flows = new Counter({ name: 'meshd_flows_total', help: 'Flows recorded, by verdict, protocol and layer (kernel or proxy)', labelNames: ['verdict', 'protocol', 'layer'], registers });
    this.#l7Duration = new Histogram({ name: 'meshd_l7_request_duration_seconds', help: 'L7 request duration seen by the proxy (request start to response)', labelNames: ['protocol', 'verdict'], buckets: L7_BUCKETS, registers });
    this.#xdsPush = new Histogram({ name: 'meshd_xds_push_duration_seconds', help: 'Time from a new xDS snapshot to the proxy ACKing it', buckets: COMPUTE_BUCKETS, registers });
    this.#xdsNacks = new Counter({ name: 'meshd_xds_nacks_total', help: 'xDS responses the proxy refused (NACK)', labelNames: ['node'], registers });
    this.#policyCompute = new Histogram({ name: 'meshd_policy_compute_duration_seconds', help: 'Time to recompute kernel policies and the xDS snapshot after a change', buckets: COMPUTE_BUCKETS, registers });
    const source = (): BpfMapEntriesSource | undefined => this.#bpfSource;
    new Gauge({
      name: 'meshd_bpf_map_entries',
      help: 'Entries in each pinned BPF map (read at scrape time)',
      labelNames: ['map'],
      registers,
      async collect() {
        const read = source();
        if (!read) return;
        this.reset();
        for (const { map, entries } of await read()) this.set({ map }, entries);
      },
    });
    this.#dnsQueries = new Counter({ name: 'meshd_dns_proxy_queries_total', help: 'DNS queries the DNS proxy answered, by the RCODE the client got', labelNames: ['rcode'], registers });
    this.#dnsHold = new Histogram({ name: 'meshd_dns_proxy_answer_hold_seconds', help: 'How long the DNS proxy held an allowed answer until its IPs were allowed', labelNames: ['outcome'], buckets: HOLD_BUCKETS, registers });
  }

  /** Every flow the ring records: counts it, and feeds the L7 and DNS series from proxy flows. */
  recordFlow(flow: Flow): void {
    this.#flows.inc({ verdict: flow.verdict, protocol: flow.protocol, layer: flow.layer });
    if (flow.layer !== 'proxy') return;
    if (flow.protocol === 'dns') {
      const dns = flow.l7 as { rcode?: unknown; observer?: { heldMs?: unknown; outcome?: unknown } } | undefined;
      this.recordDnsQuery(typeof dns?.rcode === 'string' && dns.rcode !== '' ? dns.rcode : 'NONE');
      if (dns?.observer && typeof dns.observer.heldMs === 'number') this.recordDnsAnswerHold(dns.observer.heldMs / 1000, String(dns.observer.outcome ?? 'done'));
    } else if (flow.protocol !== 'tcp' && flow.latencyMs !== undefined) {
      this.recordL7Request(flow.protocol, flow.verdict, flow.latencyMs / 1000);
    }
  }

  recordL7Request(protocol: string, verdict: string, seconds: number): void {
    this.#l7Duration.observe({ protocol, verdict }, seconds);
  }
  recordXdsPush(seconds: number): void {
    this.#xdsPush.observe(seconds);
  }
  recordXdsNack(node: string): void {
    this.#xdsNacks.inc({ node });
  }
  recordPolicyCompute(seconds: number): void {
    this.#policyCompute.observe(seconds);
  }
  recordDnsQuery(rcode: string): void {
    this.#dnsQueries.inc({ rcode });
  }
  recordDnsAnswerHold(seconds: number, outcome = 'done'): void {
    this.#dnsHold.observe({ outcome }, seconds);
  }
  /** Read at every scrape (e.g. Datapath map counts); a throwing source fails that scrape only. */
  setBpfMapEntriesSource(source: BpfMapEntriesSource | undefined): void {
    this.#bpfSource = source;
  }

  /** The text exposition format, as GET /metrics serves it. */
  async scrape(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }

  /**
   * Serves GET /metrics on `address` (HOST:PORT, port 0 picks one). Metrics say which pods talk to
   * which, so a non-loopback address is refused unless `allowNonLoopback` says it is meant.
   */
  async serve(address: string, options: { allowNonLoopback?: boolean } = {}): Promise<MetricsServer> {
    const { host, port } = parseMetricsAddress(address);
    if (!options.allowNonLoopback && !isLoopback(host)) {
      throw new MetricsError('MESHD_ERR_METRICS_NOT_LOOPBACK', `--metrics ${address} is not a loopback address`, 'use 127.0.0.1:PORT or [::1]:PORT, or put the endpoint behind a proxy you control');
    }
    const server = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD' }).end();
        return;
      }
      if (path !== '/metrics') {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found: try /metrics\n');
        return;
      }
      this.scrape().then(
        ({ contentType, body }) => res.writeHead(200, { 'content-type': contentType }).end(req.method === 'HEAD' ? undefined : body),
        (err: unknown) => res.writeHead(500, { 'content-type': 'text/plain' }).end(`metrics collection failed: ${err instanceof Error ? err.message : String(err)}\n`),
      );
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (err) => reject(new MetricsError('MESHD_ERR_METRICS_LISTEN', `cannot serve metrics on ${address}: ${err.message}`, 'choose another --metrics port, or --metrics off', err)));
      server.listen(port, host, () => resolve());
    });
    const bound = server.address();
    const boundPort = typeof bound === 'object' && bound ? bound.port : port;
    return new MetricsServer(server, host, boundPort);
  }
}

export class MetricsServer {
  constructor(
    readonly server: Server,
    readonly host: string,
    readonly port: number,
  ) {}
  get url(): string {
    return `http://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}/metrics`;
  }
  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}

export function parseMetricsAddress(address: string): { host: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(address) ?? /^([^:]+):(\d+)$/.exec(address);
  const port = m ? Number(m[2]) : NaN;
  if (!m || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new MetricsError('MESHD_ERR_METRICS_INVALID_ADDRESS', `--metrics must be HOST:PORT (got '${address}')`, 'e.g. --metrics 127.0.0.1:9962, or --metrics off');
  }
  return { host: m[1]!, port };
}

export function isLoopback(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  if (isIP(host) === 6) return host === '::1' || /^(0{0,4}:){7}0{0,3}1$/.test(host) || host.toLowerCase().startsWith('::ffff:127.');
  return false;
}

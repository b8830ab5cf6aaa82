// Seeded generator of a realistic cluster for bench/policy: namespaces of a few apps with 2–3
// replicas each, and CiliumNetworkPolicy / CiliumClusterwideNetworkPolicy YAML built from the
// templates people actually write (L3 by app label, port ranges, HTTP and Kafka rules, DNS +
// toFQDNs egress, CIDR sets with except, entities, deny rules). Selectors name apps, so each
// policy selects a handful of endpoints, as in a real namespace.
//
// Policies are kept as plans (structured, then rendered to text) so an update can change one
// plan and re-render it, the way an edited manifest arrives.

import type { EndpointSpec, NamedPort } from '../policy/index.js';

export interface FixtureOptions {
  policies: number;
  endpoints: number;
  seed: number;
}

export type TemplateName = 'namespace-dns' | 'l3' | 'port-ranges' | 'http' | 'kafka' | 'dns-fqdn' | 'cidr' | 'entities' | 'deny' | 'clusterwide';

export interface SelectorPlan {
  matchLabels: Record<string, string>;
  matchExpressions: Array<{ key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values: string[] }>;
}

export interface PolicyPlan {
  kind: 'CiliumNetworkPolicy' | 'CiliumClusterwideNetworkPolicy';
  name: string;
  /** undefined for cluster-wide policies. */
  namespace: string | undefined;
  template: TemplateName;
  subject: SelectorPlan;
  /** Rendered list items (`- fromEndpoints: ...`), indented as items of the section. */
  ingress: string[];
  ingressDeny: string[];
  egress: string[];
  egressDeny: string[];
}

export interface SampleFlow {
  from: string;
  to: string;
  port: number;
  protocol: 'TCP';
  method: string;
  path: string;
}

export interface PolicyFixtures {
  namespaces: string[];
  endpoints: EndpointSpec[];
  plans: PolicyPlan[];
  /** An HTTP flow between two generated endpoints that an `http` policy governs. */
  sampleFlow: SampleFlow;
}

export type UpdateKind = 'add-http-rule' | 'change-selector';

// ---- deterministic randomness -----------------------------------------------------------

/** mulberry32: tiny, fast and good enough to make fixtures vary; not for anything secret. */
export class Rng {
  #state: number;

  constructor(seed: number) {
    this.#state = seed >>> 0;
  }

  next(): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0;
    let t = this.#state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  isChance(p: number): boolean {
    return this.next() < p;
  }

  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('pick from an empty list');
    return items[this.int(items.length)]!;
  }

  /** `count` distinct items, in random order. */
  sample<T>(items: readonly T[], count: number): T[] {
    return this.shuffle(items).slice(0, count);
  }

  shuffle<T>(items: readonly T[]): T[] {
    const out = [...items];
    for (let i = out.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      [out[i], out[j]] = [out[j]!, out[i]!];
    }
    return out;
  }

  weighted<T extends string>(weights: Readonly<Record<T, number>>): T {
    const entries = Object.entries(weights) as Array<[T, number]>;
    let x = this.next() * entries.reduce((s, [, w]) => s + w, 0);
    for (const [k, w] of entries) {
      x -= w;
      if (x < 0) return k;
    }
    return entries[entries.length - 1]![0];
  }
}

// ---- the cluster ----------------------------------------------------------------------

interface AppRole {
  app: string;
  tier: string;
  ports: NamedPort[];
}

const tcp = (name: string, port: number): NamedPort => ({ name, port, protocol: 'TCP' });

const APP_ROLES: readonly AppRole[] = [
  { app: 'frontend', tier: 'web', ports: [tcp('http', 8080)] },
  { app: 'api', tier: 'backend', ports: [tcp('http', 8080), tcp('grpc', 9090)] },
  { app: 'kafka', tier: 'messaging', ports: [tcp('kafka', 9092)] },
  { app: 'worker', tier: 'backend', ports: [tcp('http', 8080)] },
  { app: 'scheduler', tier: 'backend', ports: [tcp('grpc', 9090)] },
  { app: 'postgres', tier: 'data', ports: [tcp('postgres', 5432)] },
  { app: 'redis', tier: 'data', ports: [tcp('redis', 6379)] },
  { app: 'search', tier: 'data', ports: [tcp('http', 9200)] },
  { app: 'auth-proxy', tier: 'web', ports: [tcp('http', 8080)] },
  { app: 'gateway', tier: 'web', ports: [tcp('http', 8080), tcp('https', 8443)] },
  { app: 'batch', tier: 'backend', ports: [] },
  { app: 'notifier', tier: 'backend', ports: [tcp('http', 8080)] },
];
/** Every namespace runs these, so the HTTP and Kafka templates always have a target. */
const CORE_APPS = ['frontend', 'api', 'kafka'];
const APPS_PER_NAMESPACE = 8;
const HTTP_APPS = new Set(APP_ROLES.filter((r) => r.ports.some((p) => p.name === 'http')).map((r) => r.app));
const METRICS_PORT = tcp('metrics', 9100);

const NAMESPACE_NAMES = [
  'payments', 'checkout', 'catalog', 'search', 'cart', 'shipping', 'billing', 'identity', 'auth', 'notifications',
  'inventory', 'pricing', 'reviews', 'recommendations', 'ads', 'analytics', 'reporting', 'ledger', 'fraud', 'risk',
  'support', 'chat', 'media', 'uploads', 'thumbnails', 'orders', 'returns', 'loyalty', 'coupons', 'accounts',
  'profiles', 'sessions', 'gateway', 'edge', 'partners', 'vendors', 'warehouse', 'logistics', 'fleet', 'routing',
  'maps', 'geo', 'weather', 'news', 'feeds', 'comments', 'ratings', 'audit', 'compliance', 'tax',
] as const;
const DNS_NAMESPACE = 'kube-system';
const DNS_REPLICAS = 2;
/** Namespaces scale with the endpoint count (≈20 endpoints each) up to the 50 names above. */
const ENDPOINTS_PER_NAMESPACE = 20;

interface NamespaceInfo {
  name: string;
  env: 'prod' | 'staging';
  apps: AppRole[];
  /** app → ids (`namespace/name`) of its endpoints */
  endpointsByApp: Map<string, string[]>;
}

export function generatePolicyFixtures(options: FixtureOptions): PolicyFixtures {
  const rng = new Rng(options.seed * 2654435761 + 17);
  const namespaceCount = Math.max(1, Math.min(NAMESPACE_NAMES.length, Math.round(options.endpoints / ENDPOINTS_PER_NAMESPACE)));
  const namespaces: NamespaceInfo[] = NAMESPACE_NAMES.slice(0, namespaceCount).map((name) => {
    const others = rng.sample(APP_ROLES.filter((r) => !CORE_APPS.includes(r.app)), APPS_PER_NAMESPACE - CORE_APPS.length);
    const apps = [...APP_ROLES.filter((r) => CORE_APPS.includes(r.app)), ...others];
    return { name, env: rng.isChance(0.8) ? 'prod' : 'staging', apps, endpointsByApp: new Map() };
  });

  const endpoints: EndpointSpec[] = [];
  const addEndpoint = (ns: string, role: AppRole, namespaceLabels: Record<string, string>, info?: NamespaceInfo) => {
    const n = endpoints.length + 256;
    const ip = `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
    const name = `${role.app}-${hex(rng, 9)}-${alnum(rng, 5)}`;
    endpoints.push({
      name,
      namespace: ns,
      labels: {
        app: role.app,
        tier: role.tier,
        version: rng.isChance(0.85) ? 'v1' : 'v2',
        'app.kubernetes.io/part-of': ns,
      },
      ips: [ip],
      namedPorts: [...role.ports, METRICS_PORT],
      serviceAccount: role.app,
      namespaceLabels,
    });
    if (info) {
      const ids = info.endpointsByApp.get(role.app) ?? [];
      ids.push(`${ns}/${name}`);
      info.endpointsByApp.set(role.app, ids);
    }
  };

  const dnsRole: AppRole = { app: 'kube-dns', tier: 'infra', ports: [{ name: 'dns', port: 53, protocol: 'UDP' }, tcp('dns-tcp', 53)] };
  for (let i = 0; i < DNS_REPLICAS; i++) {
    addEndpoint(DNS_NAMESPACE, dnsRole, {});
    endpoints[endpoints.length - 1]!.labels = { 'k8s-app': 'kube-dns' };
  }
  // Round-robin over each namespace's apps, so every app gets 2–3 replicas.
  const appEndpoints = options.endpoints - DNS_REPLICAS;
  for (let i = 0; i < appEndpoints; i++) {
    const info = namespaces[i % namespaces.length]!;
    const role = info.apps[Math.floor(i / namespaces.length) % info.apps.length]!;
    addEndpoint(info.name, role, { team: info.name, env: info.env }, info);
  }

  const plans: PolicyPlan[] = [];
  for (let i = 0; i < options.policies; i++) {
    const info = namespaces[i % namespaces.length]!;
    const ordinal = Math.floor(i / namespaces.length);
    plans.push(generatePlan(rng, info, namespaces, ordinal));
  }
  return { namespaces: namespaces.map((n) => n.name), endpoints, plans, sampleFlow: findSampleFlow(plans, namespaces) };
}

// ---- policy templates -----------------------------------------------------------------

const TEMPLATE_WEIGHTS: Readonly<Record<Exclude<TemplateName, 'namespace-dns'>, number>> = {
  l3: 16,
  'port-ranges': 10,
  http: 22,
  kafka: 8,
  'dns-fqdn': 12,
  cidr: 8,
  entities: 8,
  deny: 8,
  clusterwide: 5,
};

const RESOURCES = ['orders', 'users', 'payments', 'items', 'carts', 'invoices', 'sessions', 'reports'];
const EXTERNAL_NAMES = ['api.stripe.com', 'hooks.slack.com', 'api.github.com', 'sqs.eu-west-1.amazonaws.com', 'oauth2.googleapis.com'];
const EXTERNAL_PATTERNS = ['*.s3.amazonaws.com', '*.datadoghq.com', '**.cloudfront.net', '*.sentry.io'];

function generatePlan(rng: Rng, ns: NamespaceInfo, all: NamespaceInfo[], ordinal: number): PolicyPlan {
  // The first policy of each namespace is the usual "every pod may resolve names" one.
  const template: TemplateName = ordinal === 0 ? 'namespace-dns' : rng.weighted(TEMPLATE_WEIGHTS);
  const plan: PolicyPlan = {
    kind: template === 'clusterwide' ? 'CiliumClusterwideNetworkPolicy' : 'CiliumNetworkPolicy',
    name: template === 'clusterwide' ? `${ns.name}-${template}-${ordinal}` : `${template}-${ordinal}`,
    namespace: template === 'clusterwide' ? undefined : ns.name,
    template,
    subject: { matchLabels: {}, matchExpressions: [] },
    ingress: [],
    ingressDeny: [],
    egress: [],
    egressDeny: [],
  };
  const target = template === 'http' ? rng.pick(ns.apps.filter((a) => HTTP_APPS.has(a.app))) : template === 'kafka' ? appRole('kafka') : rng.pick(ns.apps);
  if (template !== 'namespace-dns') plan.subject = subjectFor(rng, ns, target);
  const peer = () => peerSelector(rng, ns, all);

  switch (template) {
    case 'namespace-dns':
      // ...and may talk to each other: `{}` in a namespaced policy means "pods of this namespace".
      plan.egress.push(dnsEgress(rng, ns), item(['toEndpoints:', ...list(['{}'])]));
      break;
    case 'l3':
      plan.ingress.push(
        rng.isChance(0.5)
          ? item(['fromEndpoints:', ...list([peer(), ...(rng.isChance(0.3) ? [peer()] : [])])])
          : item(['fromEndpoints:', ...list([peer()]), 'toPorts:', ...list([portsBlock([namedOrNumber(rng, target)])])]),
      );
      break;
    case 'port-ranges': {
      const base = 8000 + 100 * rng.int(20);
      const ports = [
        `port: "${base}"\nendPort: ${base + 10 + rng.int(90)}\nprotocol: TCP`,
        `port: "${9000 + rng.int(100)}"\nprotocol: TCP`,
        ...(rng.isChance(0.4) ? [`port: "${5000 + rng.int(50)}"\nendPort: ${5060 + rng.int(20)}\nprotocol: UDP`] : []),
      ];
      plan.ingress.push(item(['fromEndpoints:', ...list([peer()]), 'toPorts:', ...list([portsBlock(ports)])]));
      break;
    }
    case 'http':
      plan.ingress.push(httpIngress(rng, peer(), 2 + rng.int(4)));
      break;
    case 'kafka':
      plan.ingress.push(kafkaIngress(rng, ns, peer()));
      if (rng.isChance(0.5)) plan.ingress.push(kafkaIngress(rng, ns, peer()));
      break;
    case 'dns-fqdn':
      plan.egress.push(dnsEgress(rng, ns), fqdnEgress(rng));
      break;
    case 'cidr':
      plan.egress.push(cidrEgress(rng));
      if (rng.isChance(0.3)) {
        plan.ingress.push(item(['fromCIDRSet:', ...list([`cidr: 192.168.${rng.int(256)}.0/24`]), 'toPorts:', ...list([portsBlock([`port: "8443"\nprotocol: TCP`])])]));
      }
      break;
    case 'entities':
      if (rng.isChance(0.5)) plan.ingress.push(item([`fromEntities: [${rng.sample(['host', 'remote-node', 'health', 'ingress'], 1 + rng.int(2)).join(', ')}]`]));
      plan.egress.push(item([`toEntities: [${rng.pick(['kube-apiserver', 'world', 'cluster'])}]`, 'toPorts:', ...list([portsBlock([`port: "443"\nprotocol: TCP`])])]));
      break;
    case 'deny': {
      const others = all.filter((n) => n !== ns);
      const other = others.length > 0 ? rng.pick(others) : ns;
      plan.ingressDeny.push(item(['fromEndpoints:', ...list([`matchLabels:\n  k8s:io.kubernetes.pod.namespace: ${other.name}`])]));
      if (rng.isChance(0.6)) {
        plan.egressDeny.push(item(['toCIDR:', '- 169.254.169.254/32', 'toPorts:', ...list([portsBlock([`port: "80"\nprotocol: TCP`])])]));
      }
      // A deny-only rule would leave the endpoint open otherwise; real ones come with an allow.
      plan.ingress.push(item(['fromEndpoints:', ...list([peer()])]));
      break;
    }
    case 'clusterwide': {
      // Scoped to the namespace by label: cluster-wide, but still a handful of endpoints.
      plan.subject.matchLabels['k8s:io.kubernetes.pod.namespace'] = ns.name;
      plan.ingress.push(
        item(['fromEndpoints:', ...list([`matchLabels:\n  app: prometheus\n  k8s:io.kubernetes.pod.namespace: monitoring`]), 'toPorts:', ...list([portsBlock([`port: "9100"\nprotocol: TCP`])])]),
      );
      plan.egressDeny.push(item(['toCIDRSet:', ...list([`cidr: 169.254.0.0/16\nexcept:\n- 169.254.1.0/24`])]));
      plan.egress.push(item(['toEntities: [cluster]']));
      break;
    }
  }
  // A third of the policies also carry a second concern, as hand-written ones tend to.
  if (template !== 'namespace-dns' && template !== 'clusterwide' && rng.isChance(0.35)) {
    const extra = rng.pick(['dns', 'database', 'host'] as const);
    if (extra === 'dns' && plan.egress.length === 0) plan.egress.push(dnsEgress(rng, ns), fqdnEgress(rng));
    else if (extra === 'database') {
      const db = rng.pick(['postgres', 'redis'] as const);
      plan.egress.push(item(['toEndpoints:', ...list([`matchLabels:\n  app: ${db}`]), 'toPorts:', ...list([portsBlock([`port: ${db}\nprotocol: TCP`])])]));
    } else plan.ingress.push(item(['fromEntities: [host]']));
  }
  return plan;
}

function subjectFor(rng: Rng, ns: NamespaceInfo, target: AppRole): SelectorPlan {
  const s: SelectorPlan = { matchLabels: {}, matchExpressions: [] };
  const shape = rng.weighted({ app: 60, apps: 15, tier: 10, notCanary: 10, exists: 5 });
  switch (shape) {
    case 'app':
      s.matchLabels['app'] = target.app;
      break;
    case 'apps': {
      const second = rng.pick(ns.apps.filter((a) => a !== target));
      s.matchExpressions.push({ key: 'app', operator: 'In', values: [target.app, second.app] });
      break;
    }
    case 'tier':
      s.matchLabels['tier'] = target.tier;
      break;
    case 'notCanary':
      s.matchLabels['app'] = target.app;
      s.matchExpressions.push({ key: 'version', operator: 'NotIn', values: ['canary'] });
      break;
    case 'exists':
      s.matchLabels['app'] = target.app;
      s.matchExpressions.push({ key: 'tier', operator: 'Exists', values: [] });
      break;
  }
  return s;
}

/** A fromEndpoints/toEndpoints selector: an app of this namespace, sometimes of another one. */
function peerSelector(rng: Rng, ns: NamespaceInfo, all: NamespaceInfo[]): string {
  if (rng.isChance(0.25)) {
    const other = rng.pick(all);
    return `matchLabels:\n  app: ${rng.pick(other.apps).app}\n  k8s:io.kubernetes.pod.namespace: ${other.name}`;
  }
  if (rng.isChance(0.1)) return `matchExpressions:\n- key: app\n  operator: In\n  values: [${rng.sample(ns.apps, 2).map((a) => a.app).join(', ')}]`;
  return `matchLabels:\n  app: ${rng.pick(ns.apps).app}`;
}

function namedOrNumber(rng: Rng, target: AppRole): string {
  const named = target.ports[0];
  if (named && rng.isChance(0.5)) return `port: ${named.name}\nprotocol: TCP`;
  return `port: "${named?.port ?? 8080}"\nprotocol: TCP`;
}

function httpRules(rng: Rng, count: number): string[] {
  const r = rng.pick(RESOURCES);
  const pool = [
    `method: GET\npath: "/api/v1/${r}(/[0-9]+)?"`,
    `method: POST\npath: "/api/v1/${r}"`,
    `method: "PUT|PATCH"\npath: "/api/v1/${r}/[0-9]+"`,
    `method: DELETE\npath: "/api/v1/${r}/[0-9]+"\nheaders:\n- "X-Admin: true"`,
    `method: GET\npath: "/healthz|/readyz"`,
    `method: GET\npath: "/static/.*"\nhost: "${r}\\\\.example\\\\.com"`,
    `method: GET\npath: "/api/v2/${r}/[a-f0-9-]{36}"`,
    `method: "GET|HEAD"\npath: "/api/v1/${r}/[0-9]+/history"\nheaderMatches:\n- name: X-Tenant\n  value: ${r}`,
  ];
  return rng.sample(pool, count);
}

function httpIngress(rng: Rng, peer: string, ruleCount: number): string {
  return item(['fromEndpoints:', ...list([peer]), 'toPorts:', ...list([portsBlock([`port: "8080"\nprotocol: TCP`], ['http:', ...list(httpRules(rng, ruleCount))])])]);
}

function kafkaIngress(rng: Rng, ns: NamespaceInfo, peer: string): string {
  const topics = rng.sample([`${ns.name}.events`, `${ns.name}.orders`, `${ns.name}.audit`, `${ns.name}.dlq`], 1 + rng.int(2));
  const rules = topics.flatMap((t) =>
    rng.isChance(0.6)
      ? [`role: ${rng.pick(['produce', 'consume'])}\ntopic: ${t}`]
      : [`apiKey: ${rng.pick(['produce', 'fetch', 'metadata', 'offsetcommit'])}\napiVersion: ${rng.int(12)}\nclientID: ${rng.pick(ns.apps).app}\ntopic: ${t}`],
  );
  return item(['fromEndpoints:', ...list([peer]), 'toPorts:', ...list([portsBlock([`port: "9092"\nprotocol: TCP`], ['kafka:', ...list(rules)])])]);
}

function dnsEgress(rng: Rng, ns: NamespaceInfo): string {
  const rules = [`matchPattern: "*.${ns.name}.svc.cluster.local"`, ...rng.sample([...EXTERNAL_NAMES.map((n) => `matchName: ${n}`), ...EXTERNAL_PATTERNS.map((p) => `matchPattern: "${p}"`)], 1 + rng.int(3))];
  return item([
    'toEndpoints:',
    ...list([`matchLabels:\n  k8s:io.kubernetes.pod.namespace: ${DNS_NAMESPACE}\n  k8s:k8s-app: kube-dns`]),
    'toPorts:',
    ...list([portsBlock([`port: "53"\nprotocol: ANY`], ['dns:', ...list(rules)])]),
  ]);
}

function fqdnEgress(rng: Rng): string {
  const fqdns = [...rng.sample(EXTERNAL_NAMES, 1 + rng.int(2)).map((n) => `matchName: ${n}`), ...(rng.isChance(0.5) ? [`matchPattern: "${rng.pick(EXTERNAL_PATTERNS)}"`] : [])];
  return item(['toFQDNs:', ...list(fqdns), 'toPorts:', ...list([portsBlock([`port: "443"\nprotocol: TCP`])])]);
}

function cidrEgress(rng: Rng): string {
  const a = 10 + rng.int(40);
  const sets = [
    `cidr: 10.0.0.0/8\nexcept:\n- 10.96.0.0/12\n- 10.${a}.0.0/16`,
    ...(rng.isChance(0.5) ? [`cidr: 172.16.0.0/12\nexcept:\n- 172.${16 + rng.int(16)}.${rng.int(256)}.0/24`] : []),
    ...(rng.isChance(0.3) ? [`cidr: 2001:db8:${rng.int(4096).toString(16)}::/48`] : []),
  ];
  return item(['toCIDRSet:', ...list(sets), 'toPorts:', ...list([portsBlock([`port: "${rng.pick([443, 5432, 6379, 9200])}"\nprotocol: TCP`])])]);
}

function appRole(app: string): AppRole {
  return APP_ROLES.find((r) => r.app === app)!;
}

// ---- updates ----------------------------------------------------------------------------

/**
 * The plan after one edit an operator would make: add an HTTP rule (a new ingress element with
 * L7 rules), or point the policy at another app (the selector changes, so the endpoints it used
 * to select and the ones it now selects are both affected).
 */
export function updatePlan(plan: PolicyPlan, kind: UpdateKind, rng: Rng, fixtures: PolicyFixtures): PolicyPlan {
  const next: PolicyPlan = { ...plan, subject: { matchLabels: { ...plan.subject.matchLabels }, matchExpressions: [...plan.subject.matchExpressions] }, ingress: [...plan.ingress] };
  const ns = plan.namespace ?? plan.subject.matchLabels['k8s:io.kubernetes.pod.namespace'] ?? fixtures.namespaces[0]!;
  if (kind === 'add-http-rule') {
    next.ingress.push(httpIngress(rng, `matchLabels:\n  app: ${rng.pick(APP_ROLES).app}`, 2 + rng.int(4)));
    return next;
  }
  const apps = [...new Set(fixtures.endpoints.filter((e) => e.namespace === ns).map((e) => e.labels['app']!))];
  const current = plan.subject.matchLabels['app'];
  next.subject = {
    matchLabels: { app: rng.pick(apps.filter((a) => a !== current)) },
    matchExpressions: [],
  };
  if (plan.kind === 'CiliumClusterwideNetworkPolicy') next.subject.matchLabels['k8s:io.kubernetes.pod.namespace'] = ns;
  return next;
}

// ---- rendering ------------------------------------------------------------------------

/** The plan as the YAML manifest a user would apply. */
export function renderPolicyText(plan: PolicyPlan): string {
  const lines = [
    `# bench fixture: ${plan.template}`,
    'apiVersion: cilium.io/v2',
    `kind: ${plan.kind}`,
    'metadata:',
    `  name: ${plan.name}`,
    ...(plan.namespace !== undefined ? [`  namespace: ${plan.namespace}`] : []),
    '  labels:',
    `    template: ${plan.template}`,
    'spec:',
    `  description: "bench ${plan.template} policy"`,
    '  endpointSelector:',
    ...indent(renderSelector(plan.subject), 4),
  ];
  for (const section of ['ingress', 'ingressDeny', 'egress', 'egressDeny'] as const) {
    if (plan[section].length === 0) continue;
    lines.push(`  ${section}:`, ...plan[section].flatMap((it) => indent(it.split('\n'), 2)));
  }
  return `${lines.join('\n')}\n`;
}

export function policyFileName(plan: PolicyPlan): string {
  return `bench/${plan.namespace ?? '_cluster'}/${plan.name}.yaml`;
}

function renderSelector(s: SelectorPlan): string[] {
  const labels = Object.entries(s.matchLabels);
  if (labels.length === 0 && s.matchExpressions.length === 0) return ['{}'];
  const out: string[] = [];
  if (labels.length > 0) out.push('matchLabels:', ...labels.map(([k, v]) => `  ${k}: ${v}`));
  if (s.matchExpressions.length > 0) {
    out.push('matchExpressions:');
    for (const e of s.matchExpressions) {
      out.push(`- key: ${e.key}`, `  operator: ${e.operator}`);
      if (e.values.length > 0) out.push(`  values: [${e.values.join(', ')}]`);
    }
  }
  return out;
}

/** `toPorts` element: `ports` plus optional `rules` lines (already rendered as a mapping). */
function portsBlock(ports: string[], rules?: string[]): string {
  return ['ports:', ...list(ports), ...(rules ? ['rules:', ...indent(rules, 2)] : [])].join('\n');
}

/** A YAML list element whose body is the given lines (each possibly multi-line). */
function item(body: string[]): string {
  return list([body.join('\n')]).join('\n');
}

/** YAML block-sequence lines for the given mapping bodies. */
function list(bodies: string[]): string[] {
  return bodies.flatMap((b) => b.split('\n').map((line, i) => (i === 0 ? `- ${line}` : `  ${line}`)));
}

function indent(lines: string[], by: number): string[] {
  const pad = ' '.repeat(by);
  return lines.map((l) => (l === '' ? l : pad + l));
}

// ---- helpers ----------------------------------------------------------------------------

function findSampleFlow(plans: PolicyPlan[], namespaces: NamespaceInfo[]): SampleFlow {
  for (const plan of plans) {
    if (plan.template !== 'http' || plan.namespace === undefined) continue;
    const app = plan.subject.matchLabels['app'];
    const peer = /fromEndpoints:\n\s*- matchLabels:\n\s*app: ([a-z-]+)\n\s*toPorts/.exec(plan.ingress[0] ?? '')?.[1];
    const ns = namespaces.find((n) => n.name === plan.namespace);
    if (!app || !peer || Object.keys(plan.subject.matchLabels).length !== 1 || plan.subject.matchExpressions.length > 0 || !ns) continue;
    const to = ns.endpointsByApp.get(app)?.[0];
    const from = ns.endpointsByApp.get(peer)?.[0];
    // A request the policy allows, so the trace goes all the way to an L7 match.
    const resource = /method: GET\n\s*path: "\/api\/v1\/([a-z]+)\(\/\[0-9\]\+\)\?"/.exec(plan.ingress[0]!)?.[1];
    if (to && from && from !== to && resource) return { from, to, port: 8080, protocol: 'TCP', method: 'GET', path: `/api/v1/${resource}/42` };
  }
  const first = namespaces[0]!;
  const ids = [...first.endpointsByApp.values()].flat();
  return { from: ids[0]!, to: ids[1] ?? ids[0]!, port: 8080, protocol: 'TCP', method: 'GET', path: '/healthz' };
}

function hex(rng: Rng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += '0123456789abcdef'[rng.int(16)];
  return s;
}

function alnum(rng: Rng, length: number): string {
  let s = '';
  for (let i = 0; i < length; i++) s += 'bcdfghjklmnpqrstvwxz2456789'[rng.int(27)];
  return s;
}

// Which flow decided a request: the flows `meshd observe -o json` returned, narrowed to the
// request's time window, its client and its destination port, then the most telling one — a
// proxy (L7) verdict beats a kernel one, a denial beats an allowance.
export interface ObservedFlow {
  id?: number;
  time: string;
  layer: 'kernel' | 'proxy';
  verdict: string;
  protocol?: string;
  source?: { ip?: string; port?: number; pod?: string };
  destination?: { ip?: string; port?: number; pod?: string };
  policy?: string;
  reason?: string;
  summary?: string;
}

export interface FlowWindow {
  startMs: number;
  endMs: number;
  /** The client pod (ns/name) and its addresses. */
  fromPod: string;
  fromIps: string[];
  destinationPort: number;
}

const DENIED = new Set(['DROPPED', 'DENIED', 'ERROR']);

export function isObservedFlow(v: unknown): v is ObservedFlow {
  return !!v && typeof v === 'object' && typeof (v as ObservedFlow).time === 'string' && typeof (v as ObservedFlow).verdict === 'string';
}

export function flowsOf(flows: readonly ObservedFlow[], w: FlowWindow): ObservedFlow[] {
  return flows.filter((f) => {
    const t = Date.parse(f.time);
    // Same clock (one machine); the driver leaves a pause between requests, so a window needs no slack.
    if (!(t >= w.startMs && t <= w.endMs)) return false;
    const fromClient = f.source?.pod === w.fromPod || (f.source?.ip !== undefined && w.fromIps.includes(f.source.ip));
    return fromClient && f.destination?.port === w.destinationPort;
  });
}

export interface Decision {
  layer: 'kernel' | 'proxy';
  verdict: string;
  /** The deciding policy, short (namespace/name and the rule), or what decided without one. */
  policy: string;
  flow: ObservedFlow;
}

/**
 * `allow CiliumNetworkPolicy empire/deathstar spec.ingress[0] TCP/80` → `empire/deathstar ingress[0]`;
 * a bare `empire/deathstar` or `default-deny` stays as it is.
 */
export function shortPolicy(policy: string): string {
  const m = /(?:CiliumNetworkPolicy|CiliumClusterwideNetworkPolicy|NetworkPolicy)\s+(\S+)(?:\s+spec\.(\S+))?/.exec(policy);
  return m ? `${m[1]}${m[2] ? ` ${m[2]}` : ''}` : policy;
}

export function decidingFlow(flows: readonly ObservedFlow[]): Decision | undefined {
  const pick = (layer: 'kernel' | 'proxy', verdicts: (v: string) => boolean): ObservedFlow | undefined =>
    flows.filter((f) => f.layer === layer && verdicts(f.verdict)).at(-1);
  const flow =
    pick('proxy', (v) => DENIED.has(v)) ??
    pick('proxy', (v) => v === 'FORWARDED' || v === 'AUDIT') ??
    pick('kernel', (v) => DENIED.has(v)) ??
    pick('kernel', (v) => v === 'AUDIT') ??
    pick('kernel', (v) => v === 'FORWARDED') ??
    pick('kernel', (v) => v === 'REDIRECTED');
  if (!flow) return undefined;
  // A redirect without a proxy record still says the proxy had the request.
  const layer = flow.verdict === 'REDIRECTED' ? 'proxy' : flow.layer;
  let policy = flow.policy ? shortPolicy(flow.policy) : undefined;
  if (!policy && flow.layer === 'proxy') {
    // A proxy denial may name no rule (none matched); the policy whose L7 rules it enforced is
    // the one that redirected the connection to the proxy.
    const redirect = pick('kernel', (v) => v === 'REDIRECTED');
    if (redirect?.policy) policy = shortPolicy(redirect.policy);
  }
  // An L7 denial says why (rbac_denied, kafka_denied_topic, dns_name_denied); a kernel default
  // deny says it in its name already.
  if (policy && DENIED.has(flow.verdict) && flow.reason && flow.layer === 'proxy') policy = `${policy} (${flow.reason})`;
  return { layer, verdict: flow.verdict, policy: policy ?? (flow.reason ? `(${flow.reason})` : '-'), flow };
}

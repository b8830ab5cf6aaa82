// Checks one Cilium rule (the body of `spec`, an element of `specs`, or of a bare JSON rule list)
// against the schema of current Cilium (pkg/policy/api: rule.go, ingress.go, egress.go, l4.go,
// http.go, fqdn.go, cidr.go, entity.go, icmp.go; sanitize rules from rule_validation.go), plus
// Kafka rules as Cilium had them up to 1.19.

import type {
  CidrRule,
  Direction,
  DnsRule,
  Entity,
  FqdnSelector,
  HeaderMatch,
  HeaderPresence,
  HttpRule,
  IcmpField,
  KafkaRule,
  L7Rules,
  PeerRule,
  PeerSelector,
  PolicyOrigin,
  PolicyRule,
  PortProtocol,
  PortRule,
  Protocol,
  ServiceSelector,
  TlsContext,
} from '../model.js';
import { ENTITIES } from '../model.js';
import { parseCidr, prefixContains } from '../cidr/index.js';
import { isServiceName, readCidr } from './field-readers.js';
import { checkRegex } from '../regex/index.js';
import { validateMatchName, validateMatchPattern, validateServerName } from '../fqdn/index.js';
import { isKafkaTopicName, kafkaApiKeyFromName, kafkaApiKeyNames } from '../l7/index.js';
import { editDistance } from './edit-distance.js';
import { describe, formatPath, type Checker, type Field, type FieldSpec } from './checker.js';
import { checkSelector } from './selector.js';
import { icmpTypeFromName } from './icmp-types.js';

const REQUIRES_REMOVED =
  'fromRequires/toRequires were removed in Cilium 1.19: add the required labels to each fromEndpoints/toEndpoints selector instead';

const RULE_FIELDS = [
  'endpointSelector',
  'nodeSelector',
  'ingress',
  'ingressDeny',
  'egress',
  'egressDeny',
  'enableDefaultDeny',
  'labels',
  'description',
  'log',
] as const;

const INGRESS_L3 = ['fromEndpoints', 'fromCIDR', 'fromCIDRSet', 'fromEntities', 'fromGroups', 'fromNodes'] as const;
const EGRESS_L3 = ['toEndpoints', 'toCIDR', 'toCIDRSet', 'toEntities', 'toServices', 'toFQDNs', 'toGroups', 'toNodes'] as const;

const MAX_PORTS = 40;
const MAX_ICMP_FIELDS = 40;

export interface RuleContext {
  origin: PolicyOrigin;
  ruleIndex: number;
  /** CCNP and rule lists may select nodes; namespaced CNPs may not. */
  allowNodeSelector: boolean;
}

/** Returns the rule, or undefined when any problem was reported for it. */
export function checkCiliumRule(c: Checker, f: Field, ctx: RuleContext): PolicyRule | undefined {
  const before = c.problems.length;
  const fields = c.object(f.value, f.path, { known: RULE_FIELDS }, 'a rule');
  if (!fields) return undefined;

  const endpointSelector = fields.get('endpointSelector');
  const nodeSelector = fields.get('nodeSelector');
  let subject: PolicyRule['subject'] | undefined;
  if (endpointSelector && nodeSelector) {
    c.report('MESHD_ERR_POLICY_CONFLICT', nodeSelector.path, 'a rule has either endpointSelector or nodeSelector, not both', undefined, 'key');
  } else if (!endpointSelector && !nodeSelector) {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', f.path, 'a rule needs endpointSelector (or nodeSelector in a cluster-wide policy)', 'use `endpointSelector: {}` to select every endpoint');
  } else if (nodeSelector && !ctx.allowNodeSelector) {
    c.report('MESHD_ERR_POLICY_UNSUPPORTED', nodeSelector.path, 'nodeSelector is only allowed in a CiliumClusterwideNetworkPolicy', undefined, 'key');
  } else {
    const sel = endpointSelector ?? nodeSelector;
    const selector = sel && checkSelector(c, sel, sel === endpointSelector ? 'endpointSelector' : 'nodeSelector');
    if (selector) subject = { kind: endpointSelector ? 'endpoints' : 'nodes', selector };
  }
  const isHostPolicy = subject?.kind === 'nodes';

  const ingress = c.list(fields.get('ingress'), 'ingress', (it) => checkPeerRule(c, it, 'ingress', false, isHostPolicy)) ?? [];
  const ingressDeny = c.list(fields.get('ingressDeny'), 'ingressDeny', (it) => checkPeerRule(c, it, 'ingress', true, isHostPolicy)) ?? [];
  const egress = c.list(fields.get('egress'), 'egress', (it) => checkPeerRule(c, it, 'egress', false, isHostPolicy)) ?? [];
  const egressDeny = c.list(fields.get('egressDeny'), 'egressDeny', (it) => checkPeerRule(c, it, 'egress', true, isHostPolicy)) ?? [];
  const sections = ['ingress', 'ingressDeny', 'egress', 'egressDeny'].map((k) => fields.get(k)?.value);
  if (sections.every((v) => !Array.isArray(v) || v.length === 0)) {
    c.report(
      'MESHD_ERR_POLICY_EMPTY_RULE',
      f.path,
      'a rule needs at least one of ingress, ingressDeny, egress or egressDeny',
      'to deny all ingress, write `ingress: [{}]`',
    );
  }

  const enableDefaultDeny: PolicyRule['enableDefaultDeny'] = {};
  const edd = fields.get('enableDefaultDeny');
  if (edd) {
    const e = c.object(edd.value, edd.path, { known: ['ingress', 'egress'] }, 'enableDefaultDeny');
    const i = c.boolean(e?.get('ingress'), 'enableDefaultDeny.ingress');
    const o = c.boolean(e?.get('egress'), 'enableDefaultDeny.egress');
    if (i !== undefined) enableDefaultDeny.ingress = i;
    if (o !== undefined) enableDefaultDeny.egress = o;
  }

  const rule: PolicyRule = {
    origin: ctx.origin,
    ruleIndex: ctx.ruleIndex,
    path: formatPath(f.path),
    position: c.positionOf(f.path),
    subject: subject ?? { kind: 'endpoints', selector: { requirements: [] } },
    ingress,
    ingressDeny,
    egress,
    egressDeny,
    enableDefaultDeny,
    labels: checkRuleLabels(c, fields.get('labels')),
  };
  const description = c.string(fields.get('description'), 'description');
  if (description !== undefined) rule.description = description;
  const log = fields.get('log');
  if (log) {
    const l = c.object(log.value, log.path, { known: ['value'] }, 'log');
    const value = c.string(l?.get('value'), 'log.value');
    if (value !== undefined) {
      if (value.length > 32 || !/^[\x20-\x7e]*$/.test(value)) {
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', l?.get('value')?.path ?? log.path, 'log.value is at most 32 printable ASCII characters');
      } else rule.log = value;
    }
  }
  return c.problems.length === before ? rule : undefined;
}

// Cilium's rule labels are a LabelArray: objects {key, value, source} or "source:key=value" strings.
function checkRuleLabels(c: Checker, f: Field | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  c.list(f, 'labels', (item) => {
    if (typeof item.value === 'string') {
      const eq = item.value.indexOf('=');
      const key = eq < 0 ? item.value : item.value.slice(0, eq);
      if (key !== '__proto__') out[key] = eq < 0 ? '' : item.value.slice(eq + 1);
      return true;
    }
    const l = c.object(item.value, item.path, { known: ['key', 'value', 'source'] }, 'a label');
    const key = c.string(l?.get('key'), 'label key');
    const value = c.string(l?.get('value'), 'label value') ?? '';
    const source = c.string(l?.get('source'), 'label source');
    if (l && key === undefined) c.report('MESHD_ERR_POLICY_MISSING_FIELD', item.path, 'a label needs "key"');
    if (key !== undefined && key !== '__proto__') out[source ? `${source}:${key}` : key] = value;
    return true;
  });
  return out;
}

/** The fields of an element of one of the four sections. */
function peerRuleSpec(direction: Direction, isDeny: boolean): FieldSpec {
  const l3Names = direction === 'ingress' ? INGRESS_L3 : EGRESS_L3;
  const known: string[] = [...l3Names, 'toPorts', 'icmps'].filter((k) => !(isDeny && k === 'toFQDNs'));
  if (!isDeny) known.push('authentication');
  const removed: Record<string, string> = {
    ...(direction === 'ingress' ? { fromRequires: REQUIRES_REMOVED } : { toRequires: REQUIRES_REMOVED }),
    // The pre-release mutual-auth field; Kubernetes would prune it silently, dropping the requirement.
    auth: 'write `authentication: {mode: required}` instead of `auth: {type: ...}`',
  };
  const forbidden: Record<string, { message: string; hint?: string }> = {};
  if (isDeny && direction === 'egress') {
    forbidden['toFQDNs'] = { message: 'toFQDNs cannot be used in egressDeny rules', hint: 'deny by CIDR, or allow only the names you want with toFQDNs in egress' };
  }
  return { known, removed, forbidden };
}

// Built once, not per element: a file may hold thousands of rule elements.
const PEER_RULE_SPECS = {
  ingress: peerRuleSpec('ingress', false),
  ingressDeny: peerRuleSpec('ingress', true),
  egress: peerRuleSpec('egress', false),
  egressDeny: peerRuleSpec('egress', true),
} as const satisfies Record<string, FieldSpec>;

function checkPeerRule(c: Checker, f: Field, direction: Direction, isDeny: boolean, isHostPolicy: boolean): PeerRule | undefined {
  const before = c.problems.length;
  const l3Names = direction === 'ingress' ? INGRESS_L3 : EGRESS_L3;
  const section = `${direction}${isDeny ? 'Deny' : ''}` as const;
  const fields = c.object(f.value, f.path, PEER_RULE_SPECS[section], `an ${section} rule`);
  if (!fields) return undefined;

  const presentL3 = l3Names.filter((n) => fields.has(n));
  if (presentL3.length > 1) {
    c.report(
      'MESHD_ERR_POLICY_CONFLICT',
      fields.get(presentL3[1]!)!.path,
      `combining ${presentL3.join(' and ')} in one ${section} rule is not supported`,
      'Cilium allows one peer kind per rule element: split them into separate list elements',
      'key',
    );
  }
  const peers = checkPeers(c, fields, presentL3[0]);

  const toPortsField = fields.get('toPorts');
  const icmpsField = fields.get('icmps');
  if (toPortsField && icmpsField) {
    c.report('MESHD_ERR_POLICY_CONFLICT', icmpsField.path, `toPorts and icmps cannot be combined in one ${section} rule`, 'split them into separate list elements', 'key');
  }
  const toPorts = c.list(toPortsField, 'toPorts', (pr) => checkPortRule(c, pr, direction, isDeny, isHostPolicy)) ?? [];
  const icmps = checkIcmps(c, icmpsField);

  let peerSelector: PeerSelector | undefined = peers;
  if (presentL3.length === 0) {
    // No L3 member: with ports or icmps the element applies to every peer; without them it
    // selects nothing (the `ingress: [{}]` idiom that only turns on default-deny).
    peerSelector = toPortsField || icmpsField ? { kind: 'wildcard' } : { kind: 'nothing' };
  }

  const rule: PeerRule = {
    direction,
    isDeny,
    peers: peerSelector ?? { kind: 'nothing' },
    toPorts,
    icmps,
    path: formatPath(f.path),
    position: c.positionOf(f.path),
  };
  const auth = fields.get('authentication');
  if (auth) {
    const a = c.object(auth.value, auth.path, { known: ['mode'] }, 'authentication');
    const mode = c.string(a?.get('mode'), 'authentication.mode');
    if (mode !== undefined) {
      if (mode === 'disabled' || mode === 'required' || mode === 'test-always-fail') rule.authenticationMode = mode;
      else c.report('MESHD_ERR_POLICY_INVALID_VALUE', a?.get('mode')?.path ?? auth.path, `authentication.mode must be disabled, required or test-always-fail, not "${mode}"`);
    } else if (a && !a.has('mode')) c.report('MESHD_ERR_POLICY_MISSING_FIELD', auth.path, 'authentication needs "mode"');
  }
  return c.problems.length === before ? rule : undefined;
}

function checkPeers(c: Checker, fields: Map<string, Field>, name: string | undefined): PeerSelector | undefined {
  if (name === undefined) return undefined;
  const f = fields.get(name)!;
  switch (name) {
    case 'fromEndpoints':
    case 'toEndpoints':
    case 'fromNodes':
    case 'toNodes': {
      const selectors = c.list(f, name, (it) => checkSelector(c, it, `a ${name} selector`));
      if (!selectors) return undefined;
      // An explicitly empty list selects no peer (unlike an absent field).
      if (selectors.length === 0) return { kind: 'nothing' };
      return { kind: name.endsWith('Nodes') ? 'nodes' : 'endpoints', selectors };
    }
    case 'fromEntities':
    case 'toEntities': {
      const entities = c.list(f, name, (it) => {
        if (typeof it.value === 'string' && (ENTITIES as readonly string[]).includes(it.value)) return it.value as Entity;
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', it.path, `unknown entity ${typeof it.value === 'string' ? `"${it.value}"` : describe(it.value)}`, `entities are: ${ENTITIES.join(', ')}`);
        return undefined;
      });
      return entities && (entities.length ? { kind: 'entities', entities } : { kind: 'nothing' });
    }
    case 'fromCIDR':
    case 'toCIDR': {
      const cidrs = c.list(f, name, (it) => {
        const cidr = checkCidrString(c, it);
        return cidr === undefined ? undefined : ({ cidr, except: [] } satisfies CidrRule);
      });
      return cidrs && (cidrs.length ? { kind: 'cidr', cidrs } : { kind: 'nothing' });
    }
    case 'fromCIDRSet':
    case 'toCIDRSet': {
      const cidrs = c.list(f, name, (it) => checkCidrSet(c, it));
      return cidrs && (cidrs.length ? { kind: 'cidr', cidrs } : { kind: 'nothing' });
    }
    case 'toFQDNs': {
      const fqdns = c.list(f, name, (it) => checkFqdnSelector(c, it, 'a toFQDNs selector'));
      return fqdns && (fqdns.length ? { kind: 'fqdns', fqdns } : { kind: 'nothing' });
    }
    case 'toServices': {
      const services = c.list(f, name, (it) => checkService(c, it));
      return services && (services.length ? { kind: 'services', services } : { kind: 'nothing' });
    }
    case 'fromGroups':
    case 'toGroups': {
      const groups = c.list(f, name, (it) => {
        const g = c.object(it.value, it.path, { known: ['aws'] }, 'a group');
        return g ? it.value : undefined;
      });
      return groups && (groups.length ? { kind: 'groups', groups } : { kind: 'nothing' });
    }
    default:
      return undefined;
  }
}

function checkCidrString(c: Checker, it: Field): string | undefined {
  return readCidr(c, it, { allowBareAddress: true })?.canonical;
}

function checkCidrSet(c: Checker, it: Field): CidrRule | undefined {
  const s = c.object(it.value, it.path, { known: ['cidr', 'cidrGroupRef', 'cidrGroupSelector', 'except'] }, 'a CIDR set');
  if (!s) return undefined;
  const kinds = ['cidr', 'cidrGroupRef', 'cidrGroupSelector'].filter((k) => s.has(k));
  if (kinds.length !== 1) {
    c.report(
      kinds.length === 0 ? 'MESHD_ERR_POLICY_MISSING_FIELD' : 'MESHD_ERR_POLICY_CONFLICT',
      it.path,
      `a CIDR set needs exactly one of cidr, cidrGroupRef or cidrGroupSelector${kinds.length ? ` (has ${kinds.join(', ')})` : ''}`,
    );
    return undefined;
  }
  const rule: CidrRule = { except: [] };
  const cidrField = s.get('cidr');
  if (cidrField) {
    const cidr = checkCidrString(c, cidrField);
    if (cidr === undefined) return undefined;
    rule.cidr = cidr;
  }
  const ref = c.string(s.get('cidrGroupRef'), 'cidrGroupRef');
  if (ref !== undefined) rule.cidrGroupRef = ref;
  const groupSel = s.get('cidrGroupSelector');
  if (groupSel) {
    const sel = checkSelector(c, groupSel, 'cidrGroupSelector');
    if (!sel) return undefined;
    rule.cidrGroupSelector = sel;
  }
  const except = c.list(s.get('except'), 'except', (e) => {
    const ex = checkCidrString(c, e);
    if (ex === undefined) return undefined;
    // With a CIDR group the members are only known later; containment is checked for cidr.
    if (rule.cidr === undefined) return ex;
    const outer = parseCidr(rule.cidr);
    const inner = parseCidr(ex);
    if (outer.ok && inner.ok && !prefixContains(outer.prefix, inner.prefix)) {
      c.report('MESHD_ERR_POLICY_INVALID_CIDR', e.path, `except ${ex} is not inside ${rule.cidr}`, 'an except prefix must be of the same family and contained in the cidr');
      return undefined;
    }
    return ex;
  });
  if (except) rule.except = except;
  return rule;
}

function checkFqdnSelector(c: Checker, it: Field, what: string): FqdnSelector | undefined {
  const s = c.object(it.value, it.path, { known: ['matchName', 'matchPattern'] }, what);
  if (!s) return undefined;
  const name = c.string(s.get('matchName'), 'matchName');
  const pattern = c.string(s.get('matchPattern'), 'matchPattern');
  if ((name === undefined) === (pattern === undefined)) {
    if (s.has('matchName') === s.has('matchPattern')) {
      c.report(s.size === 0 ? 'MESHD_ERR_POLICY_MISSING_FIELD' : 'MESHD_ERR_POLICY_CONFLICT', it.path, `${what} needs exactly one of matchName or matchPattern`);
    }
    return undefined;
  }
  if (name !== undefined) {
    const err = validateMatchName(name);
    if (err) {
      c.report('MESHD_ERR_POLICY_INVALID_VALUE', s.get('matchName')!.path, `invalid matchName "${name}": ${err}`, 'use matchPattern for names with `*`');
      return undefined;
    }
    return { matchName: name };
  }
  const err = validateMatchPattern(pattern!);
  if (err) {
    c.report('MESHD_ERR_POLICY_INVALID_VALUE', s.get('matchPattern')!.path, `invalid matchPattern "${pattern}": ${err}`, '`*` matches within one label; `**.` as a prefix matches one or more labels');
    return undefined;
  }
  return { matchPattern: pattern! };
}

function checkService(c: Checker, it: Field): ServiceSelector | undefined {
  const s = c.object(it.value, it.path, { known: ['k8sService', 'k8sServiceSelector'] }, 'a toServices entry');
  if (!s) return undefined;
  if (s.size !== 1) {
    c.report(s.size === 0 ? 'MESHD_ERR_POLICY_MISSING_FIELD' : 'MESHD_ERR_POLICY_CONFLICT', it.path, 'a toServices entry needs exactly one of k8sService or k8sServiceSelector');
    return undefined;
  }
  const svc = s.get('k8sService');
  if (svc) {
    const o = c.object(svc.value, svc.path, { known: ['serviceName', 'namespace'] }, 'k8sService');
    const serviceName = c.string(o?.get('serviceName'), 'serviceName');
    const namespace = c.string(o?.get('namespace'), 'namespace');
    if (o && serviceName === undefined) {
      if (!o.has('serviceName')) c.report('MESHD_ERR_POLICY_MISSING_FIELD', svc.path, 'k8sService needs "serviceName"');
      return undefined;
    }
    return serviceName === undefined ? undefined : { k8sService: { serviceName, namespace } };
  }
  const sel = s.get('k8sServiceSelector')!;
  const o = c.object(sel.value, sel.path, { known: ['selector', 'namespace'] }, 'k8sServiceSelector');
  if (!o) return undefined;
  const selectorField = o.get('selector');
  if (!selectorField) {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', sel.path, 'k8sServiceSelector needs "selector"');
    return undefined;
  }
  const selector = checkSelector(c, selectorField, 'k8sServiceSelector.selector');
  const namespace = c.string(o.get('namespace'), 'namespace');
  return selector ? { k8sServiceSelector: { selector, namespace } } : undefined;
}

function checkPortRule(
  c: Checker,
  f: Field,
  direction: Direction,
  isDeny: boolean,
  isHostPolicy: boolean,
): PortRule | undefined {
  const before = c.problems.length;
  const l7Fields = ['rules', 'terminatingTLS', 'originatingTLS', 'serverNames', 'listener'];
  const forbidden: Record<string, { message: string; hint?: string }> = {};
  if (isDeny) {
    for (const k of l7Fields) {
      forbidden[k] = { message: `deny rules match ports only; "${k}" is not allowed in ${direction}Deny`, hint: 'deny is L3/L4 only: put L7 rules in an allow rule' };
    }
  }
  const known = isDeny ? ['ports'] : ['ports', ...l7Fields];
  const fields = c.object(f.value, f.path, { known, forbidden }, isDeny ? 'a deny toPorts entry' : 'a toPorts entry');
  if (!fields) return undefined;
  const ports = c.list(fields.get('ports'), 'ports', (p) => checkPortProtocol(c, p), MAX_PORTS) ?? [];
  const rule: PortRule = { ports, serverNames: [], position: c.positionOf(f.path) };

  const rulesField = fields.get('rules');
  if (rulesField) {
    const l7 = checkL7Rules(c, rulesField, direction, isHostPolicy);
    if (l7) {
      rule.rules = l7;
      const hasWildcardPort = ports.length === 0 || ports.some((p) => p.port === 0);
      if (hasWildcardPort) {
        c.report('MESHD_ERR_POLICY_UNSUPPORTED', rulesField.path, 'L7 rules need an explicit, non-zero port', 'add `ports: [{port: "80", protocol: TCP}]`', 'key');
      }
      for (const p of ports) {
        // Cilium's PortRule sanitize: only DNS rules may use UDP or ANY (an absent protocol is ANY).
        if (l7.type !== 'dns' && p.protocol !== 'TCP') {
          c.report(
            'MESHD_ERR_POLICY_UNSUPPORTED',
            rulesField.path,
            `L7 rules can only apply to TCP (not ${p.protocol}) except for DNS rules`,
            p.protocol === 'ANY' ? 'add `protocol: TCP` to the port' : 'only DNS rules may use UDP',
            'key',
          );
        }
        if (l7.type === 'dns' && p.endPort !== undefined && p.endPort !== p.port) {
          c.report('MESHD_ERR_POLICY_UNSUPPORTED', rulesField.path, 'DNS rules cannot use port ranges (endPort)', undefined, 'key');
        }
      }
    }
  }

  for (const k of ['terminatingTLS', 'originatingTLS'] as const) {
    const tls = fields.get(k);
    if (tls) {
      const ctx = checkTls(c, tls, k);
      if (ctx) rule[k] = ctx;
    }
  }
  const serverNames = c.list(fields.get('serverNames'), 'serverNames', (s) => {
    if (typeof s.value !== 'string') {
      c.report('MESHD_ERR_POLICY_WRONG_TYPE', s.path, `a server name must be a string, not ${describe(s.value)}`);
      return undefined;
    }
    const err = validateServerName(s.value);
    if (err) {
      c.report('MESHD_ERR_POLICY_INVALID_VALUE', s.path, `invalid server name "${s.value}": ${err}`);
      return undefined;
    }
    return s.value;
  });
  if (serverNames) rule.serverNames = serverNames;
  if (rule.serverNames.length > 0 && rule.rules && !rule.terminatingTLS) {
    c.report('MESHD_ERR_POLICY_CONFLICT', fields.get('serverNames')!.path, 'serverNames together with L7 rules need terminatingTLS', 'the proxy can only see L7 requests inside TLS it terminates', 'key');
  }

  const listener = fields.get('listener');
  if (listener) {
    if (direction !== 'egress') c.report('MESHD_ERR_POLICY_UNSUPPORTED', listener.path, 'listener is only allowed on egress', undefined, 'key');
    if (rule.rules) c.report('MESHD_ERR_POLICY_CONFLICT', listener.path, 'listener cannot be combined with L7 rules', undefined, 'key');
    const l = c.object(listener.value, listener.path, { known: ['envoyConfig', 'name', 'priority'] }, 'listener');
    const ec = l?.get('envoyConfig');
    const e = ec && c.object(ec.value, ec.path, { known: ['kind', 'name'] }, 'listener.envoyConfig');
    const kind = c.string(e?.get('kind'), 'envoyConfig.kind') ?? 'CiliumEnvoyConfig';
    const ecName = c.string(e?.get('name'), 'envoyConfig.name');
    const name = c.string(l?.get('name'), 'listener.name');
    const priority = c.integer(l?.get('priority'), 'listener.priority', 1, 100);
    if (l && (!ec || ecName === undefined || name === undefined)) {
      c.report('MESHD_ERR_POLICY_MISSING_FIELD', listener.path, 'listener needs envoyConfig.name and name');
    } else if (ecName !== undefined && name !== undefined) {
      if (kind !== 'CiliumEnvoyConfig' && kind !== 'CiliumClusterwideEnvoyConfig') {
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', e?.get('kind')?.path ?? listener.path, 'envoyConfig.kind must be CiliumEnvoyConfig or CiliumClusterwideEnvoyConfig');
      }
      rule.listener = { envoyConfig: { kind, name: ecName }, name, ...(priority !== undefined ? { priority } : {}) };
    }
  }
  return c.problems.length === before ? rule : undefined;
}

const PROTOCOL_NAMES: Record<string, Protocol> = { TCP: 'TCP', UDP: 'UDP', SCTP: 'SCTP', ANY: 'ANY', '': 'ANY' };
const EXTENDED_PROTOCOLS = ['VRRP', 'IGMP', 'GRE', 'IPIP', 'IPV6', 'ESP', 'AH'];

function checkPortProtocol(c: Checker, f: Field): PortProtocol | undefined {
  const p = c.object(f.value, f.path, { known: ['port', 'endPort', 'protocol'] }, 'a port');
  if (!p) return undefined;
  let port: number | string = 0;
  const portField = p.get('port');
  if (portField) {
    const v = portField.value;
    if (typeof v === 'number' || (typeof v === 'string' && /^[0-9]+$/.test(v))) {
      const n = c.integer(portField, 'port', 0, 65535, true);
      if (n === undefined) return undefined;
      port = n;
    } else if (typeof v === 'string') {
      const name = v.toLowerCase();
      if (!isServiceName(name)) {
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', portField.path, `invalid port "${v}"`, 'a port is a number 0–65535 or a named port (1–15 letters, digits, inner hyphens)');
        return undefined;
      }
      port = name;
    } else {
      c.report('MESHD_ERR_POLICY_WRONG_TYPE', portField.path, `port must be a number or a name, not ${describe(v)}`);
      return undefined;
    }
  }
  const out: PortProtocol = { port, protocol: 'ANY', position: c.positionOf(f.path) };
  const proto = c.string(p.get('protocol'), 'protocol');
  if (proto !== undefined) {
    const upper = proto.toUpperCase();
    const known = Object.hasOwn(PROTOCOL_NAMES, upper) ? PROTOCOL_NAMES[upper] : undefined;
    if (known) out.protocol = known;
    else if (EXTENDED_PROTOCOLS.includes(upper)) {
      c.report('MESHD_ERR_POLICY_UNSUPPORTED', p.get('protocol')!.path, `protocol ${upper} is an extended IP protocol, which meshd does not enforce`, 'use TCP, UDP, SCTP or ANY; ICMP goes in icmps');
      return undefined;
    } else {
      c.report('MESHD_ERR_POLICY_INVALID_VALUE', p.get('protocol')!.path, `unknown protocol "${proto}"`, 'use TCP, UDP, SCTP or ANY; ICMP goes in icmps');
      return undefined;
    }
  }
  const endPortField = p.get('endPort');
  if (endPortField) {
    const end = c.integer(endPortField, 'endPort', 0, 65535, true);
    if (end === undefined) return undefined;
    if (typeof port === 'string') {
      c.report('MESHD_ERR_POLICY_CONFLICT', endPortField.path, 'endPort cannot be used with a named port', undefined, 'key');
      return undefined;
    }
    if (end !== 0) {
      if (end < port) {
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', endPortField.path, `endPort ${end} is below port ${port}`);
        return undefined;
      }
      if (port === 0) {
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', endPortField.path, 'endPort needs a non-zero port');
        return undefined;
      }
      out.endPort = end;
    }
  }
  return out;
}

function checkTls(c: Checker, f: Field, what: string): TlsContext | undefined {
  const t = c.object(f.value, f.path, { known: ['secret', 'trustedCA', 'certificate', 'privateKey'] }, what);
  if (!t) return undefined;
  const secretField = t.get('secret');
  if (!secretField) {
    c.report('MESHD_ERR_POLICY_MISSING_FIELD', f.path, `${what} needs "secret"`);
    return undefined;
  }
  const s = c.object(secretField.value, secretField.path, { known: ['namespace', 'name'] }, `${what}.secret`);
  const name = c.string(s?.get('name'), 'secret.name');
  if (s && name === undefined) {
    if (!s.has('name')) c.report('MESHD_ERR_POLICY_MISSING_FIELD', secretField.path, `${what}.secret needs "name"`);
    return undefined;
  }
  if (name === undefined) return undefined;
  const ctx: TlsContext = { secret: { namespace: c.string(s?.get('namespace'), 'secret.namespace'), name } };
  for (const k of ['trustedCA', 'certificate', 'privateKey'] as const) {
    const v = c.string(t.get(k), k);
    if (v !== undefined) ctx[k] = v;
  }
  return ctx;
}

function checkL7Rules(c: Checker, f: Field, direction: Direction, isHostPolicy: boolean): L7Rules | undefined {
  const r = c.object(f.value, f.path, { known: ['http', 'kafka', 'dns', 'l7proto', 'l7'] }, 'rules');
  if (!r) return undefined;
  const types = ['http', 'kafka', 'dns'].filter((k) => r.has(k));
  for (const k of ['l7proto', 'l7']) {
    const g = r.get(k);
    if (g) {
      const name = typeof g.value === 'string' ? ` "${g.value}"` : '';
      c.report(
        'MESHD_ERR_POLICY_UNSUPPORTED',
        g.path,
        `generic L7 parsers (${k}${name}) are not supported`,
        'meshd enforces HTTP, gRPC, Kafka and DNS rules; Cilium removed l7proto in 1.20',
        'key',
      );
      return undefined;
    }
  }
  if (types.length > 1) {
    c.report('MESHD_ERR_POLICY_CONFLICT', f.path, `multiple L7 protocols (${types.join(', ')}) in one toPorts entry`, 'use one L7 type per toPorts entry');
    return undefined;
  }
  const type = types[0];
  if (type === undefined) return undefined; // `rules: {}` adds nothing
  const field = r.get(type)!;
  if (direction === 'ingress' && type === 'dns') {
    c.report('MESHD_ERR_POLICY_UNSUPPORTED', field.path, 'DNS rules are only supported on egress', undefined, 'key');
    return undefined;
  }
  if (isHostPolicy && !(type === 'dns' && direction === 'egress')) {
    c.report('MESHD_ERR_POLICY_UNSUPPORTED', field.path, `host policies (nodeSelector) cannot have ${type.toUpperCase()} rules on ${direction}`, 'host policies allow only DNS rules on egress', 'key');
    return undefined;
  }
  switch (type) {
    case 'http': {
      const http = c.list(field, 'rules.http', (it) => checkHttpRule(c, it));
      return http && { type: 'http', http };
    }
    case 'kafka': {
      const kafka = c.list(field, 'rules.kafka', (it) => checkKafkaRule(c, it));
      return kafka && { type: 'kafka', kafka };
    }
    default: {
      const dns = c.list(field, 'rules.dns', (it) => {
        const s = checkFqdnSelector(c, it, 'a DNS rule');
        return s && ({ ...s, position: c.positionOf(it.path) } satisfies DnsRule);
      });
      return dns && { type: 'dns', dns };
    }
  }
}

function checkHttpRule(c: Checker, f: Field): HttpRule | undefined {
  const before = c.problems.length;
  const h = c.object(f.value, f.path, { known: ['method', 'path', 'host', 'headers', 'headerMatches'] }, 'an HTTP rule');
  if (!h) return undefined;
  const rule: HttpRule = { headers: [], headerMatches: [], position: c.positionOf(f.path) };
  for (const k of ['method', 'path', 'host'] as const) {
    const v = c.string(h.get(k), k);
    if (v === undefined) continue;
    const err = checkRegex(v);
    if (err) c.report('MESHD_ERR_POLICY_INVALID_REGEX', h.get(k)!.path, `${k} ${JSON.stringify(v)} is not a valid RE2 regular expression: ${err}`, 'HTTP fields are RE2 regexes matched against the whole value');
    else rule[k] = v;
  }
  rule.headers = c.list(h.get('headers'), 'headers', (it) => {
    if (typeof it.value !== 'string' || it.value.trim() === '') {
      c.report('MESHD_ERR_POLICY_WRONG_TYPE', it.path, 'a header must be a non-empty string: "Name" or "Name: value"');
      return undefined;
    }
    // Cilium splits at the first space and trims the colon: "X-Key: v" and "X-Key v" are the same.
    const s = it.value.trim();
    const space = s.indexOf(' ');
    const header: HeaderPresence = space < 0 ? { name: s.replace(/:$/, '') } : { name: s.slice(0, space).replace(/:$/, ''), value: s.slice(space + 1).trim() };
    return header;
  }) ?? [];
  rule.headerMatches = c.list(h.get('headerMatches'), 'headerMatches', (it) => {
    const m = c.object(it.value, it.path, { known: ['name', 'value', 'secret', 'mismatch'] }, 'a headerMatch');
    if (!m) return undefined;
    const name = c.string(m.get('name'), 'headerMatches.name');
    if (name === undefined || name === '') {
      if (!m.has('name') || name === '') c.report('MESHD_ERR_POLICY_MISSING_FIELD', it.path, 'a headerMatch needs "name"');
      return undefined;
    }
    const match: HeaderMatch = { name };
    const value = c.string(m.get('value'), 'headerMatches.value');
    if (value !== undefined) match.value = value;
    const sf = m.get('secret');
    if (sf) {
      const s = c.object(sf.value, sf.path, { known: ['namespace', 'name'] }, 'headerMatches.secret');
      const sname = c.string(s?.get('name'), 'secret.name');
      if (s && sname === undefined && !s.has('name')) c.report('MESHD_ERR_POLICY_MISSING_FIELD', sf.path, 'headerMatches.secret needs "name"');
      if (sname !== undefined) match.secret = { namespace: c.string(s?.get('namespace'), 'secret.namespace'), name: sname };
    }
    const mismatch = c.string(m.get('mismatch'), 'headerMatches.mismatch');
    if (mismatch !== undefined && mismatch !== '') {
      if (mismatch === 'LOG' || mismatch === 'ADD' || mismatch === 'DELETE' || mismatch === 'REPLACE') match.mismatch = mismatch;
      else c.report('MESHD_ERR_POLICY_INVALID_VALUE', m.get('mismatch')!.path, `mismatch must be LOG, ADD, DELETE or REPLACE, not "${mismatch}"`);
    }
    return match;
  }) ?? [];
  return c.problems.length === before ? rule : undefined;
}

const KAFKA_TOPIC_HINT = 'topics are 1–255 characters of letters, digits, ".", "_" and "-"';
/**
 * Kafka itself takes any string as a group id; meshd asks for 1–255 printable characters so a rule
 * cannot hide a control, format (zero-width) or unassigned character that no one can read back.
 */
const KAFKA_GROUP_ID = /^\P{C}{1,255}$/u;

function checkKafkaRule(c: Checker, f: Field): KafkaRule | undefined {
  const before = c.problems.length;
  const k = c.object(f.value, f.path, { known: ['role', 'apiKey', 'apiVersion', 'clientID', 'topic', 'topicPrefix', 'groupID'] }, 'a Kafka rule');
  if (!k) return undefined;
  const rule: KafkaRule = { position: c.positionOf(f.path) };
  const role = c.string(k.get('role'), 'role');
  const apiKey = c.string(k.get('apiKey'), 'apiKey');
  if (role !== undefined && apiKey !== undefined) {
    c.report('MESHD_ERR_POLICY_CONFLICT', k.get('apiKey')!.path, 'a Kafka rule has role or apiKey, not both', undefined, 'key');
  }
  if (role !== undefined) {
    const r = role.toLowerCase();
    if (r === 'produce' || r === 'consume') rule.role = r;
    else c.report('MESHD_ERR_POLICY_INVALID_VALUE', k.get('role')!.path, `role must be produce or consume, not "${role}"`);
  }
  if (apiKey !== undefined) {
    if (kafkaApiKeyFromName(apiKey) === undefined) {
      const suggestion = closestApiKeyName(apiKey);
      c.report(
        'MESHD_ERR_POLICY_INVALID_VALUE',
        k.get('apiKey')!.path,
        `unknown Kafka apiKey "${apiKey}"`,
        `${suggestion ? `did you mean "${suggestion}"? ` : ''}use a Kafka API name, lower-case or not: produce, fetch, listoffsets (or offsets), metadata, offsetcommit, offsetfetch, findcoordinator, joingroup, heartbeat, leavegroup, syncgroup, apiversions, createtopics, initproducerid, ...`,
      );
    } else rule.apiKey = apiKey.toLowerCase();
  }
  const version = c.integer(k.get('apiVersion'), 'apiVersion', 0, 32767, true);
  if (version !== undefined) rule.apiVersion = version;
  const clientID = c.string(k.get('clientID'), 'clientID');
  if (clientID !== undefined) rule.clientID = clientID;
  const topic = c.string(k.get('topic'), 'topic');
  if (topic !== undefined) {
    if (!isKafkaTopicName(topic)) c.report('MESHD_ERR_POLICY_INVALID_VALUE', k.get('topic')!.path, `invalid Kafka topic "${topic}"`, KAFKA_TOPIC_HINT);
    else rule.topic = topic;
  }
  const topicPrefix = c.string(k.get('topicPrefix'), 'topicPrefix');
  if (topicPrefix !== undefined) {
    if (topic !== undefined) {
      c.report('MESHD_ERR_POLICY_CONFLICT', k.get('topicPrefix')!.path, 'a Kafka rule has topic or topicPrefix, not both', 'a topic rule already names one topic; use two rules to allow it and a prefix', 'key');
    } else if (!isKafkaTopicName(topicPrefix)) {
      c.report('MESHD_ERR_POLICY_INVALID_VALUE', k.get('topicPrefix')!.path, `invalid Kafka topicPrefix "${topicPrefix}"`, `a prefix follows the topic rules: ${KAFKA_TOPIC_HINT}`);
    } else rule.topicPrefix = topicPrefix;
  }
  const groupID = c.string(k.get('groupID'), 'groupID');
  if (groupID !== undefined) {
    if (!KAFKA_GROUP_ID.test(groupID)) {
      c.report('MESHD_ERR_POLICY_INVALID_VALUE', k.get('groupID')!.path, `invalid Kafka groupID ${JSON.stringify(groupID)}`, 'a group id is 1–255 printable characters (no control, format or unassigned characters)');
    } else rule.groupID = groupID;
  }
  return c.problems.length === before ? rule : undefined;
}

/** The accepted API name closest to a misspelling (edit distance ≤ 3), for the hint. */
function closestApiKeyName(written: string): string | undefined {
  let best: string | undefined;
  let bestDistance = 4;
  for (const name of kafkaApiKeyNames()) {
    const d = editDistance(written.toLowerCase(), name, bestDistance);
    if (d < bestDistance) {
      bestDistance = d;
      best = name;
    }
  }
  return best;
}

function checkIcmps(c: Checker, f: Field | undefined): IcmpField[] {
  const out: IcmpField[] = [];
  c.list(f, 'icmps', (rule) => {
    const r = c.object(rule.value, rule.path, { known: ['fields'] }, 'an icmps rule');
    c.list(r?.get('fields'), 'icmps.fields', (it) => {
      const fl = c.object(it.value, it.path, { known: ['family', 'type'] }, 'an ICMP field');
      if (!fl) return undefined;
      const family = c.string(fl.get('family'), 'family') ?? 'IPv4';
      if (family !== 'IPv4' && family !== 'IPv6') {
        c.report('MESHD_ERR_POLICY_INVALID_VALUE', fl.get('family')!.path, `family must be IPv4 or IPv6, not "${family}"`);
        return undefined;
      }
      const typeField = fl.get('type');
      if (!typeField) {
        c.report('MESHD_ERR_POLICY_MISSING_FIELD', it.path, 'an ICMP field needs "type"');
        return undefined;
      }
      let type: number | undefined;
      if (typeof typeField.value === 'string' && !/^[0-9]+$/.test(typeField.value)) {
        type = icmpTypeFromName(family, typeField.value);
        if (type === undefined) c.report('MESHD_ERR_POLICY_INVALID_VALUE', typeField.path, `unknown ${family} ICMP type "${typeField.value}"`, 'use a number 0–255 or a name such as EchoRequest');
      } else type = c.integer(typeField, 'type', 0, 255, true);
      if (type === undefined) return undefined;
      out.push({ family, type });
      return true;
    }, MAX_ICMP_FIELDS);
    return true;
  });
  return out;
}


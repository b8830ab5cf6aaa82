import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { reservedIdentityByName } from '../../policy/index.js';
import {
  CONFIG_FLAGS,
  DIRECTION,
  ENDPOINT_FLAGS,
  HOOK,
  IPCACHE_PREFIX_BASE,
  MAP_NAMES,
  POLICY_FLAGS,
  POLICY_L7_SPAN_NONE,
  POLICY_PREFIX_BASE,
  POLICY_PREFIX_FULL,
  POLICY_SENTINEL_PROTOCOL,
  TPROXY_MARK,
  TPROXY_MARK_MASK,
  VERDICT,
  WORLD_IPV4_ID,
  WORLD_IPV6_ID,
} from './constants.js';

const LIB = fileURLToPath(new URL('../../../bpf/lib/', import.meta.url));

/** `#define NAME value` of the headers, for plain numbers, hex and `(1U << n)`. */
function headerDefines(): Map<string, number> {
  const out = new Map<string, number>();
  for (const file of ['common.h', 'config.h', 'endpoints.h', 'ipcache.h', 'policy.h', 'tproxy.h']) {
    for (const m of readFileSync(LIB + file, 'utf8').matchAll(/^#define ([A-Z0-9_]+) (.+?)\s*(?:\/\*.*)?$/gm)) {
      const text = m[2]!.trim();
      const shift = /^\(1U? << (\d+)\)$/.exec(text);
      const n = shift ? 2 ** Number(shift[1]) : /^(0x[0-9a-fA-F]+|\d+)U?$/.test(text) ? Number(text.replace(/U$/, '')) : undefined;
      if (n !== undefined) out.set(m[1]!, n);
    }
  }
  return out;
}

test('the numbers shared with bpf/lib/*.h have the same values on both sides', () => {
  const d = headerDefines();
  const expected: Record<string, number> = {
    DIR_INGRESS: DIRECTION.ingress,
    DIR_EGRESS: DIRECTION.egress,
    VERDICT_ALLOWED: VERDICT.allowed,
    VERDICT_DENIED: VERDICT.denied,
    VERDICT_REDIRECTED: VERDICT.redirected,
    VERDICT_AUDIT: VERDICT.audit,
    HOOK_CONNECT: HOOK.connect,
    HOOK_SENDMSG: HOOK.sendmsg,
    HOOK_SKB_INGRESS: HOOK['skb-ingress'],
    HOOK_TC_INGRESS: HOOK['tc-ingress'],
    TPROXY_MARK,
    TPROXY_MARK_MASK,
    ENDPOINT_F_INGRESS_ENFORCED: ENDPOINT_FLAGS.ingressEnforced,
    ENDPOINT_F_EGRESS_ENFORCED: ENDPOINT_FLAGS.egressEnforced,
    ENDPOINT_F_AUDIT: ENDPOINT_FLAGS.audit,
    POLICY_F_DENY: POLICY_FLAGS.deny,
    POLICY_F_ALLOW: POLICY_FLAGS.allow,
    POLICY_F_L7: POLICY_FLAGS.l7,
    POLICY_F_DEFAULT_DENY: POLICY_FLAGS.defaultDeny,
    POLICY_PREFIX_BASE,
    POLICY_PREFIX_FULL,
    POLICY_L7_SPAN_NONE,
    POLICY_SENTINEL_PROTOCOL,
    CONFIG_F_SOCKET_ACCELERATION: CONFIG_FLAGS.socketAcceleration,
    IPCACHE_PREFIX_BASE,
    WORLD_IPV4_ID,
    WORLD_IPV6_ID,
  };
  for (const [name, value] of Object.entries(expected)) assert.equal(d.get(name), value, `${name} in bpf/lib/*.h`);
});

test("addresses the ipcache does not know get the policy layer's world-ipv4 and world-ipv6 identities", () => {
  assert.equal(WORLD_IPV4_ID, reservedIdentityByName('world-ipv4')?.id);
  assert.equal(WORLD_IPV6_ID, reservedIdentityByName('world-ipv6')?.id);
});

test('every pinned map name is declared in a header under that name', () => {
  const text = ['config.h', 'endpoints.h', 'ipcache.h', 'policy.h', 'redirect.h', 'events.h'].map((f) => readFileSync(LIB + f, 'utf8')).join('\n');
  for (const name of Object.values(MAP_NAMES)) {
    assert.match(text, new RegExp(`\\} ${name} SEC\\("\\.maps"\\);`), name);
    assert.match(name, /^meshd_[a-z0-9_]+_v\d+$/, `${name} follows meshd_<thing>_v<n>`);
  }
});

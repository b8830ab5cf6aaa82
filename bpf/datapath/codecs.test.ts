import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LAYOUT_OBJECT, OBJECTS, MAP_NAMES } from './constants.js';
import {
  STRUCT_LAYOUTS,
  decodeEndpointAddrKey,
  decodeEndpointAddrValue,
  decodeEndpointInfo,
  decodeIpcacheKey,
  decodeOrigDst,
  decodePolicyKey,
  decodePolicyValue,
  decodeUdpPeer,
  encodeEndpointAddrKey,
  encodeEndpointAddrValue,
  encodeEndpointInfo,
  encodeIpcacheKey,
  encodePolicyKey,
  encodePolicyValue,
  encodeUdpPeer,
  UDP_PEER_VALUE_SIZE,
} from './codecs.js';
import { BpfMap } from '../addon/index.js';
import { readUdpPeers } from './udp-peers.js';
import { parseAddress, parsePrefix, formatAddress } from './addresses.js';

const BUILD = fileURLToPath(new URL('../../../build/bpf/', import.meta.url));

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  members?: Array<{ name: string; type_id: number; bits_offset: number }>;
  vars?: Array<{ type_id: number; offset: number; size: number }>;
}

function btfOf(object: string): BtfType[] {
  const path = BUILD + object;
  assert.ok(existsSync(path), `${path} is missing: run make build`);
  return (JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', path], { encoding: 'utf8' })) as { types: BtfType[] }).types;
}

test('every codec layout has the size and member offsets of its C struct in the BTF of the objects', () => {
  const structs = new Map(btfOf(LAYOUT_OBJECT).filter((t) => t.kind === 'STRUCT' && t.name).map((t) => [t.name!, t]));
  for (const [name, layout] of Object.entries(STRUCT_LAYOUTS)) {
    const t = structs.get(name);
    assert.ok(t, `struct ${name} is in ${LAYOUT_OBJECT}`);
    assert.equal(t.size, layout.size, `sizeof(struct ${name})`);
    const btfOffsets = Object.fromEntries(t.members!.map((m) => [m.name, m.bits_offset / 8]));
    assert.deepEqual(btfOffsets, layout.offsets, `members of struct ${name}`);
  }
});

test('the loaded objects declare the pinned maps with the key and value sizes the codecs write', () => {
  // A map's BTF definition is a struct whose `key`/`value` members point at the types.
  const types = btfOf(OBJECTS.sock.file);
  const byId = new Map(types.map((t) => [t.id, t]));
  const sizeOf = (id: number): number | undefined => {
    let t = byId.get(id);
    while (t && t.size === undefined && t.type_id !== undefined) t = byId.get(t.type_id);
    return t?.size;
  };
  const mapDefs = new Map<string, BtfType>();
  for (const t of types) {
    if (t.kind !== 'VAR' || !t.name) continue;
    const def = byId.get(t.type_id!);
    if (def?.kind === 'STRUCT') mapDefs.set(t.name, def);
  }
  const member = (map: string, m: 'key' | 'value'): number | undefined => {
    const def = mapDefs.get(map);
    const ptr = def?.members?.find((x) => x.name === m);
    return ptr ? sizeOf(byId.get(ptr.type_id)!.type_id!) : undefined;
  };
  const L = STRUCT_LAYOUTS;
  const expected: Array<[string, 'key' | 'value', number]> = [
    [MAP_NAMES.config, 'value', L.datapath_config.size],
    [MAP_NAMES.endpoints, 'key', 8],
    [MAP_NAMES.endpoints, 'value', L.endpoint_info.size],
    [MAP_NAMES.endpointAddrs, 'key', L.endpoint_addr_key.size],
    [MAP_NAMES.endpointAddrs, 'value', L.endpoint_addr_value.size],
    [MAP_NAMES.udpPeers, 'key', L.udp_peer_key.size],
    [MAP_NAMES.udpPeers, 'value', UDP_PEER_VALUE_SIZE],
    [MAP_NAMES.ipcache, 'key', L.ipcache_key.size],
    [MAP_NAMES.ipcache, 'value', L.ipcache_value.size],
    [MAP_NAMES.origDst, 'key', L.orig_dst_key.size],
    [MAP_NAMES.origDst, 'value', L.orig_dst.size],
  ];
  for (const [map, m, size] of expected) assert.equal(member(map, m), size, `${map} ${m} size`);
});

test('codecs round-trip the map entries the agent writes and reads', () => {
  const ep = { endpointId: 7, identity: 4242, flags: 3, ipv4: parseAddress('10.244.0.12').bytes.subarray(0, 4), ipv6: parseAddress('fd44:244::c').bytes };
  assert.deepEqual(decodeEndpointInfo(encodeEndpointInfo(ep)), { ...ep, ipv4: Buffer.from(ep.ipv4) });
  const key = { peerIdentity: 1000, direction: 1, protocol: 6, port: 8080, portPrefixBits: 13 };
  assert.deepEqual(decodePolicyKey(encodePolicyKey(key)), key);
  // The port is big-endian so LPM prefixes are prefixes of the port's bits.
  assert.deepEqual([...encodePolicyKey(key).subarray(10)], [0x1f, 0x90]);
  const value = { flags: 4, proxyPort: 15001, l7Span: 0 };
  assert.deepEqual(decodePolicyValue(encodePolicyValue(value)), value);
  const p = parsePrefix('fd44:244::/64');
  assert.equal(`${formatAddress(p.family, decodeIpcacheKey(encodeIpcacheKey(p)).bytes)}/${decodeIpcacheKey(encodeIpcacheKey(p)).length}`, 'fd44:244::/64');
  assert.equal(decodeOrigDst(Buffer.alloc(STRUCT_LAYOUTS.orig_dst.size)).port, 0);
});

test('the endpoint-address codecs round-trip both families', () => {
  for (const text of ['10.244.0.12', 'fd44:244::c']) {
    const a = parseAddress(text);
    const key = encodeEndpointAddrKey(a);
    assert.equal(key.length, STRUCT_LAYOUTS.endpoint_addr_key.size);
    const back = decodeEndpointAddrKey(key);
    assert.equal(formatAddress(back.family, back.bytes), text);
  }
  const value = { cgroupId: 0x1_0000_0001n, endpointId: 42 };
  assert.deepEqual(decodeEndpointAddrValue(encodeEndpointAddrValue(value)), value);
});

test('UDP peer records round-trip through the codec and through a kernel map read by readUdpPeers', () => {
  const records = [
    { cookie: 4097n, family: 2, address: parseAddress('10.96.0.10').bytes, port: 53, lastSendNs: process.hrtime.bigint() - 2_000_000_000n },
    { cookie: 4098n, family: 10, address: parseAddress('fd00::35').bytes, port: 5353, lastSendNs: process.hrtime.bigint() },
  ];
  for (const r of records) {
    const { key, value } = encodeUdpPeer(r);
    assert.deepEqual(decodeUdpPeer(key, value), r);
  }
  assert.equal(decodeUdpPeer(Buffer.alloc(8), Buffer.alloc(8)), undefined, 'a record of another layout is skipped');

  if (process.getuid?.() !== 0) throw new Error('creating a BPF map needs root (CAP_BPF)');
  const map = BpfMap.create({ type: 'lru_hash', keySize: STRUCT_LAYOUTS.udp_peer_key.size, valueSize: UDP_PEER_VALUE_SIZE, maxEntries: 16 });
  try {
    for (const r of records) {
      const { key, value } = encodeUdpPeer(r);
      map.update(key, value);
    }
    const before = Date.now();
    const peers = readUdpPeers(map).sort((a, b) => Number(a.cookie - b.cookie));
    assert.deepEqual(
      peers.map(({ lastSendAt: _, ...p }) => p),
      [
        { cookie: 4097n, family: 4, address: '10.96.0.10', port: 53, lastSendNs: records[0]!.lastSendNs },
        { cookie: 4098n, family: 6, address: 'fd00::35', port: 5353, lastSendNs: records[1]!.lastSendNs },
      ],
    );
    // Monotonic → wall clock: about 2 s ago and about now (generous bounds for a loaded VM).
    assert.ok(Math.abs(before - 2000 - peers[0]!.lastSendAt) < 1000, `lastSendAt ${peers[0]!.lastSendAt} vs ${before - 2000}`);
    assert.ok(Math.abs(before - peers[1]!.lastSendAt) < 1000);
  } finally {
    map.close();
  }
});

test('addresses parse like the kernel folds them: v4-mapped IPv6 is IPv4, host bits are cleared', () => {
  assert.equal(parseAddress('::ffff:10.1.2.3').family, 2);
  assert.equal(formatAddress(2, parseAddress('::ffff:10.1.2.3').bytes), '10.1.2.3');
  assert.equal(formatAddress(10, parsePrefix('fd44:244::1:2/64').bytes), 'fd44:244::');
  assert.equal(formatAddress(2, parsePrefix('10.244.3.7/16').bytes), '10.244.0.0');
  assert.equal(formatAddress(10, parseAddress('2001:db8:0:0:1:0:0:1').bytes), '2001:db8::1:0:0:1');
  assert.throws(() => parsePrefix('10.0.0.0/33'), { code: 'MESHD_ERR_DATAPATH_BAD_ADDRESS' });
  assert.throws(() => parseAddress('10.0.0.256'), { code: 'MESHD_ERR_DATAPATH_BAD_ADDRESS' });
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fromBinary, toBinary, toJson } from '@bufbuild/protobuf';
import { ListenerSchema } from '../generated/envoy/config/listener/v3/listener_pb.js';
import { ClusterSchema } from '../generated/envoy/config/cluster/v3/cluster_pb.js';
import { messageFromJson, checkMessageJson } from './json.js';
import { packAny, unpackAny } from './any.js';
import { xdsRegistry } from './registry.js';
import { XdsCodecError } from './errors.js';

const listener = {
  name: 'l1',
  address: { socket_address: { address: '127.0.0.1', port_value: 15001 } },
  listener_filters: [{ name: 'envoy.filters.listener.original_dst', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.original_dst.v3.OriginalDst' } }],
  filter_chains: [
    {
      filters: [
        {
          name: 'envoy.filters.network.http_connection_manager',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
            stat_prefix: 'in',
            rds: { route_config_name: 'r1', config_source: { ads: {}, resource_api_version: 'V3' } },
            http_filters: [{ name: 'envoy.filters.http.router', typed_config: { '@type': 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router' } }],
          },
        },
      ],
    },
  ],
};

describe('proto3 JSON mapping for Envoy resources', () => {
  test('a listener with nested Anys parses in snake_case and camelCase and round-trips through binary', () => {
    const msg = messageFromJson(ListenerSchema, listener);
    assert.equal(msg.name, 'l1');
    const again = fromBinary(ListenerSchema, toBinary(ListenerSchema, msg));
    assert.deepEqual(toJson(ListenerSchema, again, { registry: xdsRegistry }), toJson(ListenerSchema, msg, { registry: xdsRegistry }));
    const camel = messageFromJson(ListenerSchema, { name: 'l1', address: { socketAddress: { address: '::1', portValue: 1 } } });
    assert.equal(camel.address?.address.case, 'socketAddress');
  });

  test('durations as strings and bare wrapper values are accepted', () => {
    const c = messageFromJson(ClusterSchema, { name: 'c', connect_timeout: '1.5s', type: 'ORIGINAL_DST', lb_policy: 'CLUSTER_PROVIDED', per_connection_buffer_limit_bytes: 32768 });
    assert.equal(c.connectTimeout?.seconds, 1n);
    assert.equal(c.perConnectionBufferLimitBytes, 32768);
  });

  test('an unknown field deep inside an Any is reported with its full path', () => {
    const bad = structuredClone(listener) as any;
    bad.filter_chains[0].filters[0].typed_config.bogus = 1;
    bad.bogus_top = true;
    const problems = checkMessageJson(ListenerSchema, bad);
    assert.deepEqual(
      problems.map((p) => [p.code, p.path]),
      [
        ['MESHD_ERR_XDS_UNKNOWN_FIELD', '$.filter_chains[0].filters[0].typed_config<HttpConnectionManager>.bogus'],
        ['MESHD_ERR_XDS_UNKNOWN_FIELD', '$.bogus_top'],
      ],
    );
  });

  test('an unknown "@type" is an error, never silently dropped', () => {
    const problems = checkMessageJson(ListenerSchema, { name: 'x', listener_filters: [{ name: 'f', typed_config: { '@type': 'type.googleapis.com/cilium.BpfMetadata' } }] });
    assert.equal(problems[0]?.code, 'MESHD_ERR_XDS_UNKNOWN_TYPE_URL');
    assert.equal(problems[0]?.path, '$.listener_filters[0].typed_config["@type"]');
  });

  test('a bad duration or enum name is an error naming the problem', () => {
    assert.throws(() => messageFromJson(ClusterSchema, { name: 'c', connect_timeout: 'soon' }), (e: unknown) => e instanceof XdsCodecError && /connect_timeout|Duration/i.test(e.message));
    assert.throws(() => messageFromJson(ClusterSchema, { name: 'c', type: 'NOT_A_TYPE' }), XdsCodecError);
  });

  test('two members of one oneof are refused', () => {
    const problems = checkMessageJson(ClusterSchema, { name: 'c', type: 'STATIC', cluster_type: { name: 'x' } });
    assert.equal(problems[0]?.code, 'MESHD_ERR_XDS_INVALID_VALUE');
  });

  test('Any packing and unpacking go through the shared registry', () => {
    const msg = messageFromJson(ListenerSchema, listener);
    const any = packAny(ListenerSchema, msg);
    assert.equal(any.typeUrl, 'type.googleapis.com/envoy.config.listener.v3.Listener');
    const back = unpackAny(any);
    assert.equal(back.schema.typeName, 'envoy.config.listener.v3.Listener');
    assert.throws(() => unpackAny({ ...any, typeUrl: 'type.googleapis.com/nope.Nope' }), XdsCodecError);
  });
});

// deploy/envoy/bootstrap.yaml is a valid Envoy Bootstrap (loaded through the real proto, so unknown
// fields and bad values fail) and says what the deployment relies on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { messageFromJson } from '../codec/index.js';
import { BootstrapSchema } from '../generated/envoy/config/bootstrap/v3/bootstrap_pb.js';
import { ApiConfigSource_ApiType, ApiVersion } from '../generated/envoy/config/core/v3/config_source_pb.js';

const BOOTSTRAP = new URL('../../../deploy/envoy/bootstrap.yaml', import.meta.url);

test('the Envoy bootstrap loads as an envoy.config.bootstrap.v3.Bootstrap', () => {
  const bootstrap = messageFromJson(BootstrapSchema, parse(readFileSync(BOOTSTRAP, 'utf8')), 'deploy/envoy/bootstrap.yaml');
  assert.equal(bootstrap.node?.cluster, 'meshd');
});

test('the bootstrap points delta ADS (v3) at the agent\'s unix socket and takes listeners and clusters from it', () => {
  const b = messageFromJson(BootstrapSchema, parse(readFileSync(BOOTSTRAP, 'utf8')));
  const ads = b.dynamicResources?.adsConfig;
  assert.equal(ads?.apiType, ApiConfigSource_ApiType.DELTA_GRPC);
  assert.equal(ads?.transportApiVersion, ApiVersion.V3);
  const target = ads?.grpcServices[0]?.targetSpecifier;
  assert.equal(target?.case === 'envoyGrpc' && target.value.clusterName, 'meshd-xds');
  for (const source of [b.dynamicResources?.ldsConfig, b.dynamicResources?.cdsConfig]) {
    assert.equal(source?.configSourceSpecifier.case, 'ads');
    assert.equal(source?.resourceApiVersion, ApiVersion.V3);
  }
  const cluster = b.staticResources?.clusters.find((c) => c.name === 'meshd-xds');
  const address = cluster?.loadAssignment?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
  assert.ok(address?.case === 'endpoint');
  const pipe = address.value.address?.address;
  assert.equal(pipe?.case === 'pipe' && pipe.value.path, '/run/meshd/xds.sock');
});

test('the admin interface listens on loopback only', () => {
  const b = messageFromJson(BootstrapSchema, parse(readFileSync(BOOTSTRAP, 'utf8')));
  const admin = b.admin?.address?.address;
  assert.equal(admin?.case, 'socketAddress');
  assert.equal(admin.value.address, '127.0.0.1');
  assert.equal(admin.value.portSpecifier.case === 'portValue' && admin.value.portSpecifier.value, 9901);
});

import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { applyServerHeader, downstreamHeaders, http1RequestFields, http2Fields, upstreamRequestHeaders } from './http2-headers.js';
import { prefixRouteTable, testHcm } from '../../test/proxy/http2-harness.js';

const base = { method: 'GET', scheme: 'http' as const, authority: 'svc', path: '/p' };

describe('header blocks between HTTP/2 streams', () => {
  test('connection-specific fields and host are never forwarded; te survives only as trailers', () => {
    const out = upstreamRequestHeaders({
      ...base,
      headers: [['connection', 'close'], ['keep-alive', '5'], ['upgrade', 'h2c'], ['host', 'evil'], ['transfer-encoding', 'chunked'], ['te', 'trailers'], ['x-a', '1']],
      forwardedProto: undefined,
      appendForwardedFor: undefined,
      generateRequestId: false,
    });
    assert.deepEqual(out, { ':method': 'GET', ':scheme': 'http', ':authority': 'svc', ':path': '/p', te: 'trailers', 'x-a': '1' });
    const gzip = upstreamRequestHeaders({ ...base, headers: [['te', 'gzip']], forwardedProto: undefined, appendForwardedFor: undefined, generateRequestId: false });
    assert.equal(gzip.te, undefined);
  });

  test('repeated fields become lists, cookies are joined with "; ", single-value fields keep the first value', () => {
    const out = upstreamRequestHeaders({
      ...base,
      headers: [['x-list', 'a'], ['x-list', 'b'], ['cookie', 'a=1'], ['cookie', 'b=2'], ['content-type', 'text/plain'], ['content-type', 'text/html']],
      forwardedProto: undefined,
      appendForwardedFor: undefined,
      generateRequestId: false,
    });
    assert.deepEqual(out['x-list'], ['a', 'b']);
    assert.equal(out.cookie, 'a=1; b=2');
    assert.equal(out['content-type'], 'text/plain');
  });

  test('x-forwarded-proto is overwritten when set, x-forwarded-for gets the peer appended, x-request-id only when absent', () => {
    const out = upstreamRequestHeaders({
      ...base,
      headers: [['x-forwarded-proto', 'https'], ['x-forwarded-for', '10.0.0.1'], ['x-request-id', 'given']],
      forwardedProto: 'http',
      appendForwardedFor: '192.0.2.7',
      generateRequestId: true,
    });
    assert.equal(out['x-forwarded-proto'], 'http');
    assert.equal(out['x-forwarded-for'], '10.0.0.1, 192.0.2.7');
    assert.equal(out['x-request-id'], 'given');
    const generated = upstreamRequestHeaders({ ...base, headers: [], forwardedProto: undefined, appendForwardedFor: undefined, generateRequestId: true });
    assert.match(String(generated['x-request-id']), /^[0-9a-f-]{36}$/);
    assert.equal(generated['x-forwarded-proto'], undefined);
  });

  test('HTTP/1.1 request fields drop content-length and framing (the exchange writes its own) and keep order', () => {
    const fields = http1RequestFields([['content-length', '5'], ['transfer-encoding', 'chunked'], ['x-b', '2'], ['x-a', '1']], {
      forwardedProto: 'https',
      appendForwardedFor: undefined,
      generateRequestId: false,
    });
    assert.deepEqual(fields, [['x-b', '2'], ['x-a', '1'], ['x-forwarded-proto', 'https']]);
  });

  test('response blocks keep :status, drop other pseudo-headers and connection fields; HTTP/1.1 fields become an HTTP/2 block', () => {
    assert.deepEqual(downstreamHeaders({ ':status': '200', connection: 'x', 'x-a': '1' }, true), { ':status': '200', 'x-a': '1' });
    assert.deepEqual(downstreamHeaders({ ':status': '200', 'grpc-status': '0' }, false), { 'grpc-status': '0' });
    assert.deepEqual(http2Fields([['set-cookie', 'a'], ['set-cookie', 'b'], ['keep-alive', '1'], ['etag', '1'], ['etag', '2']]), { 'set-cookie': ['a', 'b'], etag: '1' });
  });

  test('server_header_transformation: overwrite by default, append_if_absent, pass_through', () => {
    const routes = prefixRouteTable([]);
    const overwrite = { server: 'upstream' };
    applyServerHeader(overwrite, testHcm(routes));
    assert.equal(overwrite.server, 'meshd');
    const keep = { server: 'upstream' };
    applyServerHeader(keep, testHcm(routes, [], { serverHeader: 'append_if_absent' }));
    assert.equal(keep.server, 'upstream');
    const absent: Record<string, string> = {};
    applyServerHeader(absent, testHcm(routes, [], { serverHeader: 'append_if_absent' }));
    assert.equal(absent.server, 'meshd');
    const pass: Record<string, string> = {};
    applyServerHeader(pass, testHcm(routes, [], { serverHeader: 'pass_through' }));
    assert.equal(pass.server, undefined);
  });
});

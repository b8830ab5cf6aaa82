import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { subscribeFlows } from '../flow/index.js';
import type { HttpFlowRecord } from '../flow/index.js';
import { createHttp2ConnectionHandler } from './http2-connection.js';
import type { Http2ConnectionHandler } from './http2-connection.js';
import { denyPathPrefixes, prefixRouteTable, startFront, staticCluster, testHcm, testView, withTimeout } from '../../test/proxy/http2-harness.js';
import type { Front } from '../../test/proxy/http2-harness.js';

// Messages are raw bytes (identity serializers): the proxy never looks inside them, so no .proto.
const bytes = { serialize: (b: Buffer): Buffer => b, deserialize: (b: Buffer): Buffer => b };
function method(path: string, requestStream: boolean, responseStream: boolean): grpc.MethodDefinition<Buffer, Buffer> {
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: bytes.serialize,
    requestDeserialize: bytes.deserialize,
    responseSerialize: bytes.serialize,
    responseDeserialize: bytes.deserialize,
  };
}
const echoService = {
  unary: method('/test.Echo/Unary', false, false),
  denied: method('/test.Echo/Denied', false, false),
  serverStream: method('/test.Echo/ServerStream', false, true),
  clientStream: method('/test.Echo/ClientStream', true, false),
  bidi: method('/test.Echo/Bidi', true, true),
  hang: method('/test.Echo/Hang', false, false),
  fail: method('/test.Echo/Fail', false, false),
} satisfies grpc.ServiceDefinition;
const otherService = { unknown: method('/test.Other/Unknown', false, false) } satisfies grpc.ServiceDefinition;

type EchoClient = grpc.Client & Record<keyof typeof echoService, (...args: unknown[]) => unknown>;
const EchoClient = grpc.makeGenericClientConstructor(echoService, 'Echo') as unknown as new (address: string, creds: grpc.ChannelCredentials) => EchoClient;
const OtherClient = grpc.makeGenericClientConstructor(otherService, 'Other') as unknown as new (address: string, creds: grpc.ChannelCredentials) => grpc.Client &
  Record<'unknown', (...args: unknown[]) => unknown>;

function unary(client: EchoClient, name: 'unary' | 'denied' | 'hang' | 'fail', request: Buffer, options: grpc.CallOptions = {}): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    client[name](request, new grpc.Metadata(), options, (err: grpc.ServiceError | null, reply?: Buffer) => (err ? reject(err) : resolve(reply as Buffer)));
  });
}

describe('gRPC through the HTTP/2 proxy (@grpc/grpc-js client and server)', () => {
  let server: grpc.Server;
  let handler: Http2ConnectionHandler;
  let front: Front;
  let client: EchoClient;
  let upstreamCalls = 0;
  let hangCancelled: () => void = () => {};
  const nextHangCancelled = (): Promise<void> => new Promise((resolve) => (hangCancelled = resolve));
  let hangStarted: () => void = () => {};
  const nextHangStarted = (): Promise<void> => new Promise((resolve) => (hangStarted = resolve));

  before(async () => {
    server = new grpc.Server();
    server.addService(echoService, {
      unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        upstreamCalls++;
        const md = new grpc.Metadata();
        md.set('x-trailer', 'from-server');
        cb(null, Buffer.concat([Buffer.from('echo:'), call.request]), md);
      },
      denied: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        upstreamCalls++;
        cb(null, Buffer.from('must not happen'));
      },
      serverStream: (call: grpc.ServerWritableStream<Buffer, Buffer>) => {
        upstreamCalls++;
        const n = call.request.readUInt32BE(0);
        for (let i = 0; i < n; i++) call.write(Buffer.from(`item-${i}`));
        call.end();
      },
      clientStream: (call: grpc.ServerReadableStream<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        upstreamCalls++;
        let count = 0;
        let total = 0;
        call.on('data', (b: Buffer) => {
          count++;
          total += b.length;
        });
        call.on('end', () => cb(null, Buffer.from(`${count}/${total}`)));
      },
      bidi: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
        upstreamCalls++;
        call.on('data', (b: Buffer) => call.write(Buffer.concat([Buffer.from('re:'), b])));
        call.on('end', () => call.end());
      },
      hang: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => {
        upstreamCalls++;
        hangStarted();
        call.on('cancelled', () => hangCancelled());
      },
      fail: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
        upstreamCalls++;
        cb({ code: grpc.status.NOT_FOUND, details: 'no such thing' });
      },
    });
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
    );
    const view = testView([staticCluster('grpc-backend', [{ address: '127.0.0.1', port, weight: 1 }])]);
    const hcm = testHcm(prefixRouteTable([{ prefix: '/test.Echo/', cluster: 'grpc-backend' }]), [denyPathPrefixes(['/test.Echo/Denied'])]);
    handler = createHttp2ConnectionHandler();
    front = await startFront({ handler, view, hcm: () => hcm });
    client = new EchoClient(`127.0.0.1:${front.port}`, grpc.credentials.createInsecure());
  });

  after(async () => {
    client.close();
    handler.pool.destroy();
    await front.close();
    server.forceShutdown();
  });

  test('an allowed unary call reaches the server and its reply and trailing metadata come back', async () => {
    const reply = await withTimeout(
      new Promise<{ reply: Buffer; trailer: unknown }>((resolve, reject) => {
        let trailer: unknown;
        const call = client.unary(Buffer.from('hi'), new grpc.Metadata(), {}, (err: grpc.ServiceError | null, r?: Buffer) =>
          err ? reject(err) : setImmediate(() => resolve({ reply: r as Buffer, trailer })),
        ) as grpc.ClientUnaryCall;
        call.on('status', (s: grpc.StatusObject) => (trailer = s.metadata.get('x-trailer')[0]));
      }),
      5_000,
      'unary',
    );
    assert.equal(reply.reply.toString(), 'echo:hi');
    assert.equal(reply.trailer, 'from-server');
  });

  test('a call an RBAC rule denies fails with PERMISSION_DENIED (7) and never reaches the server', async () => {
    const before = upstreamCalls;
    await assert.rejects(withTimeout(unary(client, 'denied', Buffer.from('x')), 5_000, 'denied'), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.PERMISSION_DENIED);
      assert.match(err.details, /Access denied/);
      return true;
    });
    assert.equal(upstreamCalls, before);
  });

  test('flow records of gRPC calls carry protocol grpc and the grpc-status the client saw', async () => {
    const records: HttpFlowRecord[] = [];
    const unsubscribe = subscribeFlows((r) => {
      if (r.type === 'http') records.push(r);
    });
    try {
      await unary(client, 'unary', Buffer.from('flow'));
      await assert.rejects(unary(client, 'denied', Buffer.from('x')));
      await assert.rejects(unary(client, 'fail', Buffer.from('x')));
      await withTimeout(
        new Promise<void>((resolve) => {
          const check = (): void => (records.length >= 3 ? resolve() : void setTimeout(check, 5));
          check();
        }),
        2_000,
        'three flow records',
      );
    } finally {
      unsubscribe();
    }
    const byPath = new Map(records.map((r) => [r.http.path, r]));
    const ok = byPath.get('/test.Echo/Unary');
    assert.equal(ok?.protocol, 'grpc');
    assert.equal(ok?.verdict, 'FORWARDED');
    assert.equal(ok?.http.grpcStatus, 0);
    const denied = byPath.get('/test.Echo/Denied');
    assert.equal(denied?.verdict, 'DENIED');
    assert.equal(denied?.http.status, 200);
    assert.equal(denied?.http.grpcStatus, 7);
    assert.equal(byPath.get('/test.Echo/Fail')?.http.grpcStatus, grpc.status.NOT_FOUND);
  });

  test('a method no route matches fails with UNIMPLEMENTED (12, Envoy maps 404)', async () => {
    const other = new OtherClient(`127.0.0.1:${front.port}`, grpc.credentials.createInsecure());
    try {
      await assert.rejects(
        withTimeout(
          new Promise((resolve, reject) =>
            other.unknown(Buffer.from('x'), (err: grpc.ServiceError | null, r?: Buffer) => (err ? reject(err) : resolve(r))),
          ),
          5_000,
          'no route',
        ),
        (err: grpc.ServiceError) => err.code === grpc.status.UNIMPLEMENTED,
      );
    } finally {
      other.close();
    }
  });

  test('a server error status and message pass through unchanged', async () => {
    await assert.rejects(withTimeout(unary(client, 'fail', Buffer.from('x')), 5_000, 'fail'), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.NOT_FOUND);
      assert.equal(err.details, 'no such thing');
      return true;
    });
  });

  test('server streaming delivers every message in order', async () => {
    const n = Buffer.alloc(4);
    n.writeUInt32BE(500);
    const items = await withTimeout(
      new Promise<string[]>((resolve, reject) => {
        const got: string[] = [];
        const call = client.serverStream(n) as grpc.ClientReadableStream<Buffer>;
        call.on('data', (b: Buffer) => got.push(b.toString()));
        call.on('error', reject);
        call.on('end', () => resolve(got));
      }),
      10_000,
      'server stream',
    );
    assert.equal(items.length, 500);
    assert.equal(items[0], 'item-0');
    assert.equal(items[499], 'item-499');
  });

  test('client streaming delivers every message (2000 messages, 8 MB)', async () => {
    const summary = await withTimeout(
      new Promise<string>((resolve, reject) => {
        const call = client.clientStream((err: grpc.ServiceError | null, r?: Buffer) => (err ? reject(err) : resolve((r as Buffer).toString()))) as grpc.ClientWritableStream<Buffer>;
        let i = 0;
        const chunk = Buffer.alloc(4096, 7);
        const writeMore = (): void => {
          while (i < 2000) {
            i++;
            if (!call.write(chunk)) {
              call.once('drain', writeMore);
              return;
            }
          }
          call.end();
        };
        writeMore();
      }),
      15_000,
      'client stream',
    );
    assert.equal(summary, `2000/${2000 * 4096}`);
  });

  test('a bidirectional stream answers each message as it arrives', async () => {
    const replies = await withTimeout(
      new Promise<string[]>((resolve, reject) => {
        const call = client.bidi() as grpc.ClientDuplexStream<Buffer, Buffer>;
        const got: string[] = [];
        let sent = 0;
        call.on('data', (b: Buffer) => {
          got.push(b.toString());
          // Ping-pong: the next message only after the previous answer, so the proxy must not buffer.
          if (sent < 20) call.write(Buffer.from(`m${sent++}`));
          else call.end();
        });
        call.on('error', reject);
        call.on('end', () => resolve(got));
        call.write(Buffer.from(`m${sent++}`));
      }),
      10_000,
      'bidi',
    );
    assert.equal(replies.length, 20);
    assert.equal(replies[0], 're:m0');
    assert.equal(replies[19], 're:m19');
  });

  test('a client cancel reaches the server as a cancelled call', async () => {
    const started = nextHangStarted();
    const cancelled = nextHangCancelled();
    const call = client.hang(Buffer.from('x'), () => {}) as grpc.ClientUnaryCall;
    await withTimeout(started, 5_000, 'server saw the call');
    call.cancel();
    await withTimeout(cancelled, 5_000, 'server saw the cancel');
  });

  test('a deadline expiring at the client fails with DEADLINE_EXCEEDED and the server call is cancelled', async () => {
    const cancelled = nextHangCancelled();
    await assert.rejects(
      withTimeout(unary(client, 'hang', Buffer.from('x'), { deadline: Date.now() + 300 }), 5_000, 'deadline'),
      (err: grpc.ServiceError) => err.code === grpc.status.DEADLINE_EXCEEDED,
    );
    await withTimeout(cancelled, 5_000, 'server saw the cancel');
  });

  test('100 concurrent unary calls over one client channel all succeed', async () => {
    const replies = await withTimeout(Promise.all(Array.from({ length: 100 }, (_, i) => unary(client, 'unary', Buffer.from(String(i))))), 15_000, '100 calls');
    for (const [i, r] of replies.entries()) assert.equal(r.toString(), `echo:${i}`);
  });
});

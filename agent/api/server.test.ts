import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { MeshdError } from '../../policy/index.js';
import { ApiClient, ApiError, agentSocketPath, defaultStateDir, httpStatusOf, startApiServer } from './index.js';
import type { ApiRoute, ApiServer } from './index.js';

interface Fixture {
  dir: string;
  socketPath: string;
  server: ApiServer;
  client: ApiClient;
  warnings: Array<{ o: object; msg: string }>;
}

async function withServer(routes: ApiRoute[], body: (f: Fixture) => Promise<void>, options: { bodyLimitBytes?: number } = {}): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'meshd-api-'));
  const socketPath = join(dir, 'meshd.sock');
  const warnings: Fixture['warnings'] = [];
  const server = await startApiServer({ socketPath, routes, logger: { warn: (o, msg) => warnings.push({ o, msg }) }, ...options });
  const client = new ApiClient({ socketPath, timeoutMs: 5000 });
  try {
    await body({ dir, socketPath, server, client, warnings });
  } finally {
    client.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

async function rejectsWithCode(p: Promise<unknown>, code: string, status?: number): Promise<ApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof ApiError, `expected an ApiError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    if (status !== undefined) assert.equal(err.httpStatus, status);
    return err;
  }
  assert.fail(`expected ${code}`);
}

/** A stream source that says when it is asked for items, returned and aborted. */
function observedStream(signalOf: { signal?: AbortSignal }) {
  const state = { produced: 0, returned: false, release: [] as Array<() => void> };
  async function* items() {
    try {
      for (;;) {
        await new Promise<void>((resolve) => {
          state.release.push(resolve);
          signalOf.signal?.addEventListener('abort', () => resolve(), { once: true });
        });
        if (signalOf.signal?.aborted) return;
        yield { n: state.produced++ };
      }
    } finally {
      state.returned = true;
    }
  }
  return { state, items };
}

describe('the API server', () => {
  test('answers a GET with its handler result as JSON, with the query parsed', async () => {
    await withServer([{ method: 'GET', path: '/v1/echo', handler: async (r) => ({ pod: r.query.get('pod'), all: r.query.getAll('x') }) }], async ({ client }) => {
      assert.deepEqual(await client.get('/v1/echo', { pod: 'default/web', x: ['1', '2'], none: undefined }), { pod: 'default/web', all: ['1', '2'] });
    });
  });

  test('passes a POST body to the handler and answers 204 when the handler returns nothing', async () => {
    let seen: unknown;
    await withServer(
      [
        { method: 'POST', path: '/v1/echo', handler: async (r) => r.body },
        { method: 'DELETE', path: '/v1/thing', handler: async (r) => void (seen = r.query.get('name')) },
      ],
      async ({ client }) => {
        assert.deepEqual(await client.post('/v1/echo', { a: [1, 'two', null] }), { a: [1, 'two', null] });
        assert.equal(await client.delete('/v1/thing', { name: 'x' }), undefined);
        assert.equal(seen, 'x');
      },
    );
  });

  test('answers an unknown path with 404 and a wrong method with 405 naming the allowed ones', async () => {
    await withServer([{ method: 'GET', path: '/v1/status', handler: async () => ({}) }], async ({ client, socketPath }) => {
      const notFound = await rejectsWithCode(client.get('/v1/nope'), 'MESHD_ERR_API_NOT_FOUND', 404);
      assert.match(notFound.message, /\/v1\/nope/);
      const wrong = await rejectsWithCode(client.post('/v1/status', {}), 'MESHD_ERR_API_METHOD_NOT_ALLOWED', 405);
      assert.match(wrong.message, /takes GET/);
      const res = await fetchRaw(socketPath, 'DELETE /v1/status HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n');
      assert.match(res, /^HTTP\/1\.1 405/);
      assert.match(res, /\r\nallow: GET\r\n/i);
    });
  });

  test('turns a thrown MeshdError into its status and {error:{code,message,hint}}, problems included', async () => {
    const routes: ApiRoute[] = [
      { method: 'GET', path: '/nf', handler: async () => { throw new MeshdError('MESHD_ERR_ENDPOINT_NOT_FOUND', 'no pod default/x', 'see meshd pod list'); } },
      { method: 'GET', path: '/ex', handler: async () => { throw new MeshdError('MESHD_ERR_POD_EXISTS', 'pod exists'); } },
      {
        method: 'GET',
        path: '/val',
        handler: async () => {
          throw Object.assign(new MeshdError('MESHD_ERR_POLICY_UNKNOWN_FIELD', '2 problems'), { problems: [{ code: 'MESHD_ERR_POLICY_UNKNOWN_FIELD', message: 'x', position: { file: 'a.yaml', line: 1, col: 2 } }] });
        },
      },
      { method: 'GET', path: '/other', handler: async () => { throw new MeshdError('MESHD_ERR_AGENT_SOMETHING', 'broke'); } },
    ];
    await withServer(routes, async ({ client }) => {
      const nf = await rejectsWithCode(client.get('/nf'), 'MESHD_ERR_ENDPOINT_NOT_FOUND', 404);
      assert.equal(nf.message, 'no pod default/x');
      assert.equal(nf.hint, 'see meshd pod list');
      const ex = await rejectsWithCode(client.get('/ex'), 'MESHD_ERR_POD_EXISTS', 409);
      assert.equal(ex.hint, undefined);
      const val = await rejectsWithCode(client.get('/val'), 'MESHD_ERR_POLICY_UNKNOWN_FIELD', 400);
      assert.deepEqual(val.problems, [{ code: 'MESHD_ERR_POLICY_UNKNOWN_FIELD', message: 'x', position: { file: 'a.yaml', line: 1, col: 2 } }]);
      await rejectsWithCode(client.get('/other'), 'MESHD_ERR_AGENT_SOMETHING', 500);
    });
  });

  test('answers any other throw with 500 MESHD_ERR_API_INTERNAL, logs it and keeps serving', async () => {
    await withServer(
      [
        { method: 'GET', path: '/bug', handler: async () => { throw new TypeError('x is undefined'); } },
        { method: 'GET', path: '/sync-bug', handler: () => { throw 'a string'; } },
        { method: 'GET', path: '/bigint', handler: async () => ({ n: 1n }) },
        { method: 'GET', path: '/ok', handler: async () => 'ok' },
      ],
      async ({ client, warnings }) => {
        const err = await rejectsWithCode(client.get('/bug'), 'MESHD_ERR_API_INTERNAL', 500);
        assert.match(err.message, /TypeError: x is undefined/);
        assert.match(err.hint ?? '', /log/);
        await rejectsWithCode(client.get('/sync-bug'), 'MESHD_ERR_API_INTERNAL', 500);
        await rejectsWithCode(client.get('/bigint'), 'MESHD_ERR_API_INTERNAL', 500);
        assert.equal(await client.get('/ok'), 'ok');
        assert.ok(warnings.length >= 2, JSON.stringify(warnings));
      },
    );
  });

  test('refuses a body over the limit with 413 and says what the limit is', async () => {
    await withServer([{ method: 'POST', path: '/in', handler: async (r) => ({ size: JSON.stringify(r.body).length }) }], async ({ client }) => {
      const err = await rejectsWithCode(client.post('/in', { blob: 'x'.repeat(4 * 1024 * 1024) }), 'MESHD_ERR_API_BODY_TOO_LARGE', 413);
      assert.match(err.message, /4194304 bytes \(4 MiB\)/);
      assert.deepEqual(await client.post('/in', { blob: 'x'.repeat(1000) }), { size: 1011 });
    });
  });

  test('refuses a body that is not JSON with 400', async () => {
    await withServer([{ method: 'POST', path: '/in', handler: async () => 'no' }], async ({ socketPath }) => {
      const res = await fetchRaw(socketPath, 'POST /in HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 5\r\nconnection: close\r\n\r\n{"a":');
      assert.match(res, /^HTTP\/1\.1 400/);
      assert.match(res, /"code":"MESHD_ERR_API_BAD_REQUEST"/);
    });
  });

  test('streams an AsyncIterable as NDJSON, one line per item as soon as it is produced', async () => {
    const holder: { signal?: AbortSignal } = {};
    const { state, items } = observedStream(holder);
    const routes: ApiRoute[] = [{ method: 'GET', path: '/follow', handler: (r) => ((holder.signal = r.signal), items()) }];
    await withServer(routes, async ({ client }) => {
      const it = client.stream<{ n: number }>('/follow')[Symbol.asyncIterator]();
      const first = it.next();
      await waitFor(() => state.release.length === 1);
      state.release.shift()!();
      assert.deepEqual(await first, { value: { n: 0 }, done: false });
      // The second item is not produced until released: the first arrived on its own.
      const second = it.next();
      await waitFor(() => state.release.length === 1);
      state.release.shift()!();
      assert.deepEqual(await second, { value: { n: 1 }, done: false });
      await it.return!();
      // Leaving the loop closed the connection: the server aborted the signal and returned the iterator.
      await waitFor(() => state.returned);
      assert.equal(holder.signal?.aborted, true);
    });
  });

  test('ends a stream when the iterable ends, and sends an iterable error as the last line', async () => {
    async function* three() {
      yield 1;
      yield { b: 2 };
      yield 'three';
    }
    async function* failing() {
      yield 1;
      throw new MeshdError('MESHD_ERR_FLOWS_SOMETHING', 'ring closed', 'restart');
    }
    await withServer(
      [
        { method: 'GET', path: '/three', handler: () => three() },
        { method: 'GET', path: '/later', handler: async () => three() },
        { method: 'GET', path: '/failing', handler: () => failing() },
      ],
      async ({ client }) => {
        assert.deepEqual(await collect(client.stream('/three')), [1, { b: 2 }, 'three']);
        assert.deepEqual(await collect(client.stream('/later')), [1, { b: 2 }, 'three']);
        const got: unknown[] = [];
        await rejectsWithCode(
          (async () => {
            for await (const v of client.stream('/failing')) got.push(v);
          })(),
          'MESHD_ERR_FLOWS_SOMETHING',
        );
        assert.deepEqual(got, [1]);
      },
    );
  });

  test('a stream whose handler fails before streaming answers with the error status', async () => {
    await withServer([{ method: 'GET', path: '/s', handler: async () => { throw new MeshdError('MESHD_ERR_FLOWS_BAD_FILTER', 'bad --verdict'); } }], async ({ client }) => {
      await rejectsWithCode(collect(client.stream('/s')), 'MESHD_ERR_FLOWS_BAD_FILTER', 400);
    });
  });

  test('stops a stream quietly when the caller aborts its signal', async () => {
    const holder: { signal?: AbortSignal } = {};
    const { state, items } = observedStream(holder);
    await withServer([{ method: 'GET', path: '/follow', handler: (r) => ((holder.signal = r.signal), items()) }], async ({ client }) => {
      const ac = new AbortController();
      const got: unknown[] = [];
      const done = (async () => {
        for await (const v of client.stream('/follow', undefined, ac.signal)) {
          got.push(v);
          ac.abort();
        }
      })();
      await waitFor(() => state.release.length === 1);
      state.release.shift()!();
      await done;
      assert.deepEqual(got, [{ n: 0 }]);
      await waitFor(() => state.returned);
    });
  });

  test('close() ends open streams, returns their iterators and removes the socket file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshd-api-'));
    const socketPath = join(dir, 'meshd.sock');
    const holder: { signal?: AbortSignal } = {};
    const { state, items } = observedStream(holder);
    const server = await startApiServer({ socketPath, routes: [{ method: 'GET', path: '/follow', handler: (r) => ((holder.signal = r.signal), items()) }] });
    const client = new ApiClient({ socketPath });
    try {
      const done = collect(client.stream('/follow'));
      await waitFor(() => state.release.length === 1);
      const started = Date.now();
      await server.close();
      assert.ok(Date.now() - started < 2000, 'close waited for the stream');
      assert.deepEqual(await done, []);
      await waitFor(() => state.returned);
      await assert.rejects(stat(socketPath), { code: 'ENOENT' });
    } finally {
      client.close();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('creates the socket with mode 0600', async () => {
    await withServer([], async ({ socketPath }) => {
      assert.equal((await stat(socketPath)).mode & 0o777, 0o600);
    });
  });

  test('replaces a stale socket file no one answers on, but not a live one or a regular file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshd-api-'));
    try {
      const stale = join(dir, 'stale.sock');
      // A process that dies while listening leaves its socket file behind.
      const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(stale)}, () => process.kill(process.pid, 'SIGKILL'))`]);
      assert.equal(r.signal, 'SIGKILL');
      assert.ok((await stat(stale)).isSocket());
      const server = await startApiServer({ socketPath: stale, routes: [{ method: 'GET', path: '/ok', handler: async () => 1 }] });
      const client = new ApiClient({ socketPath: stale });
      try {
        assert.equal(await client.get('/ok'), 1);
        // The same path again while it is live: refused, and the live server keeps its socket.
        await rejectsWithCode(startApiServer({ socketPath: stale, routes: [] }), 'MESHD_ERR_API_SOCKET_IN_USE');
        assert.equal(await client.get('/ok'), 1);
      } finally {
        client.close();
        await server.close();
      }
      const plain = join(dir, 'plain');
      await writeFile(plain, 'keep me');
      await rejectsWithCode(startApiServer({ socketPath: plain, routes: [] }), 'MESHD_ERR_API_SOCKET_PATH');
      assert.ok((await stat(plain)).isFile());
      await rejectsWithCode(startApiServer({ socketPath: join(dir, 'x'.repeat(120)), routes: [] }), 'MESHD_ERR_API_SOCKET_PATH');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('refuses a route table with the same method and path twice', async () => {
    const h = async () => 1;
    await assert.rejects(startApiServer({ socketPath: '/tmp/unused.sock', routes: [{ method: 'GET', path: '/a', handler: h }, { method: 'GET', path: '/a', handler: h }] }), /registered twice/);
  });
});

describe('the API client', () => {
  test('says the agent is not running, with how to start it, when the socket is missing', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshd-api-'));
    try {
      const client = ApiClient.forStateDir(dir);
      const err = await rejectsWithCode(client.get('/v1/status'), 'MESHD_ERR_API_AGENT_NOT_RUNNING');
      assert.match(err.message, new RegExp(`no agent socket at ${join(dir, 'meshd.sock')}`));
      assert.match(err.hint ?? '', /start it with `meshd agent`/);
      assert.match(err.hint ?? '', /--state-dir/);
      await rejectsWithCode(collect(client.stream('/v1/flows')), 'MESHD_ERR_API_AGENT_NOT_RUNNING');
      client.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('says the agent is not running when the socket file is left but refuses', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshd-api-'));
    try {
      const path = join(dir, 'meshd.sock');
      spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
      const client = new ApiClient({ socketPath: path });
      const err = await rejectsWithCode(client.post('/v1/x', {}), 'MESHD_ERR_API_AGENT_NOT_RUNNING');
      assert.match(err.message, /nothing answers/);
      client.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('reports a socket that does not speak the API as a bad response', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'meshd-api-'));
    const path = join(dir, 'other.sock');
    const connections = new Set<import('node:net').Socket>();
    const other = createServer((s) => {
      connections.add(s);
      s.end('HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello');
    });
    await new Promise<void>((r) => other.listen(path, r));
    const client = new ApiClient({ socketPath: path });
    try {
      await rejectsWithCode(client.get('/v1/status'), 'MESHD_ERR_API_BAD_RESPONSE');
    } finally {
      client.close();
      for (const s of connections) s.destroy();
      await new Promise((r) => other.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('gives up on a silent agent after its timeout', async () => {
    await withServer([{ method: 'GET', path: '/slow', handler: (r) => new Promise((resolve) => r.signal.addEventListener('abort', () => resolve(1))) }], async ({ socketPath }) => {
      const client = new ApiClient({ socketPath, timeoutMs: 200 });
      await rejectsWithCode(client.get('/slow'), 'MESHD_ERR_API_TIMEOUT');
      client.close();
    });
  });

  test('finds the state directory in $MESHD_STATE_DIR, else /var/lib/meshd', () => {
    assert.equal(defaultStateDir({ MESHD_STATE_DIR: '/run/m' }), '/run/m');
    assert.equal(defaultStateDir({ MESHD_STATE_DIR: '' }), '/var/lib/meshd');
    assert.equal(defaultStateDir({}), '/var/lib/meshd');
    assert.equal(agentSocketPath('/run/m'), '/run/m/meshd.sock');
  });

  test('maps codes to HTTP statuses as the contract says', () => {
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_POLICY_STORE_NOT_FOUND' }), 404);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_DATAPATH_UNKNOWN_ENDPOINT' }), 404);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_POD_EXISTS' }), 409);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_AGENT_ALREADY_RUNNING' }), 409);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_POD_INVALID_SPEC' }), 400);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_POLICY_UNKNOWN_FIELD' }), 400);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_POLICY_STORE_WRITE' }), 500);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_POD_COMMAND' }), 500);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_POD_COMMAND', httpStatus: 503 }), 503);
    assert.equal(httpStatusOf({ code: 'MESHD_ERR_POD_COMMAND', httpStatus: 200 }), 500);
  });
});

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const v of it) out.push(v);
  return out;
}

async function waitFor(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > until) assert.fail('condition not reached in time');
    await sleep(5);
  }
}

/** Sends raw bytes and returns everything the server writes until it closes. */
export async function fetchRaw(socketPath: string, text: string): Promise<string> {
  const { connect } = await import('node:net');
  return new Promise((resolve, reject) => {
    const s = connect(socketPath);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => (out += d));
    s.on('end', () => resolve(out));
    s.on('error', reject);
    s.write(text);
  });
}

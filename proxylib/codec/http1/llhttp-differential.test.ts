// Differential test: every case of the smuggling corpus is sent raw to a node:http server on
// loopback (Node's llhttp, non-lenient) and to meshd's RequestParser; both must agree on how many
// requests are accepted and whether the connection is rejected — except for the cases marked
// `differsFromLlhttp`, where meshd is deliberately different (the reason is in the corpus), and
// there the test checks that they really do differ (so a stale note is caught too).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { DEFAULT_HTTP1_LIMITS, RequestParser } from './index.js';
import { SMUGGLING_CORPUS, type SmugglingCase } from '../../../test/proxy/smuggling-corpus.js';

interface Verdict {
  /** Requests that completed (meshd) / were answered 200 by the handler (Node). */
  accepted: number;
  /** The parser rejected the bytes (meshd error / Node answered an error status itself). */
  rejected: boolean;
}

/**
 * Node keeps accepted connections open, so "done" means "quiet for a while". A busy machine can be
 * slower than that: a case that disagrees is measured again with a long quiet window before it
 * fails (verdicts do not change with time, only how much of them was seen).
 */
const QUIET_MS = 200;
const SLOW_QUIET_MS = 1500;
const CASE_TIMEOUT_MS = 8000;

function meshdVerdict(c: SmugglingCase): Verdict {
  let accepted = 0;
  let rejected = false;
  const parser = new RequestParser(DEFAULT_HTTP1_LIMITS, {
    onHead() {},
    onBody() {},
    onMessageComplete() {
      accepted++;
    },
    onError() {
      rejected = true;
    },
  });
  parser.execute(Buffer.from(c.raw, 'latin1'));
  return { accepted, rejected };
}

/** Sends the raw bytes on a fresh connection; reads responses until the server closes or goes quiet. */
function nodeVerdict(port: number, c: SmugglingCase, quietMs: number): Promise<Verdict> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let received = '';
    let quiet: NodeJS.Timeout | undefined;
    const hard = setTimeout(() => finish(), CASE_TIMEOUT_MS);
    const finish = (): void => {
      clearTimeout(hard);
      if (quiet) clearTimeout(quiet);
      socket.destroy();
      const statuses = [...received.matchAll(/HTTP\/1\.[01] (\d{3})/g)].map((m) => Number(m[1]));
      // 100 Continue is an interim response, not a verdict.
      const finals = statuses.filter((s) => s !== 100);
      resolve({ accepted: finals.filter((s) => s === 200).length, rejected: finals.some((s) => s !== 200) });
    };
    const arm = (): void => {
      if (quiet) clearTimeout(quiet);
      quiet = setTimeout(finish, quietMs);
    };
    socket.on('connect', () => {
      socket.write(Buffer.from(c.raw, 'latin1'));
      arm();
    });
    socket.on('data', (d) => {
      received += d.toString('latin1');
      arm();
    });
    socket.on('close', finish);
    socket.on('error', (e) => {
      if ((e as NodeJS.ErrnoException).code === 'ECONNRESET') finish();
      else reject(e);
    });
  });
}

describe('meshd and node:http (llhttp) agree on the smuggling corpus, except where documented', { concurrency: 8 }, () => {
  let server: Server;
  let port = 0;
  before(async () => {
    // Node's defaults except the head limit, set to meshd's (Envoy's) 60 KiB so limits compare.
    server = createServer({ maxHeaderSize: 60 * 1024 }, (req, res) => {
      req.resume();
      req.on('end', () => res.end('ok'));
    });
    server.on('upgrade', (_req, socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    server.on('connect', (_req, socket) => socket.end('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise<void>((r) => server.close(() => r()));
  });

  for (const c of SMUGGLING_CORPUS) {
    test(c.name, async () => {
      const ours = meshdVerdict(c);
      const agrees = (v: Verdict): boolean => (ours.accepted === v.accepted && ours.rejected === v.rejected) !== (c.differsFromLlhttp !== undefined);
      let theirs = await nodeVerdict(port, c, QUIET_MS);
      if (!agrees(theirs)) theirs = await nodeVerdict(port, c, SLOW_QUIET_MS);
      const same = ours.accepted === theirs.accepted && ours.rejected === theirs.rejected;
      if (c.differsFromLlhttp) {
        assert.ok(!same, `documented as different (${c.differsFromLlhttp}) but both give ${JSON.stringify(ours)}`);
      } else {
        assert.deepEqual(ours, theirs, `meshd ${JSON.stringify(ours)} vs node ${JSON.stringify(theirs)}`);
      }
    });
  }
});

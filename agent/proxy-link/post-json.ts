// One JSON POST to the agent's API socket over a keep-alive agent: the DNS hold is on the query
// path, so the link must not pay a connect per answer.
import { Agent, request } from 'node:http';

export const ANSWERS_PATH = '/v1/fqdn/answers';
export const PROXY_FLOWS_PATH = '/v1/flows/proxy';

export function keepAliveAgent(): Agent {
  return new Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 8 });
}

export type PostOutcome =
  /** The agent answered 2xx. */
  | { kind: 'ok' }
  /** The agent answered with an error status: it is there, but refused this body (do not retry). */
  | { kind: 'refused'; status: number; body: string }
  /** No answer: not running, restarting, or too slow (retry later). */
  | { kind: 'unreachable'; error: string };

export function postJson(o: { agent: Agent; socketPath: string; path: string; body: unknown; timeoutMs: number }): Promise<PostOutcome> {
  const payload = Buffer.from(JSON.stringify(o.body));
  return new Promise((resolve) => {
    let done = false;
    const finish = (outcome: PostOutcome): void => {
      if (done) return;
      done = true;
      resolve(outcome);
    };
    const req = request(
      { agent: o.agent, socketPath: o.socketPath, path: o.path, method: 'POST', headers: { 'content-type': 'application/json', 'content-length': payload.length } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          finish(status >= 200 && status < 300 ? { kind: 'ok' } : { kind: 'refused', status, body: Buffer.concat(chunks).toString('utf8').slice(0, 500) });
        });
        res.on('error', (err) => finish({ kind: 'unreachable', error: err.message }));
      },
    );
    req.setTimeout(o.timeoutMs, () => {
      req.destroy(new Error(`no answer in ${o.timeoutMs} ms`));
    });
    req.on('error', (err: NodeJS.ErrnoException) => finish({ kind: 'unreachable', error: err.code ? `${err.code}: ${err.message}` : err.message }));
    req.end(payload);
  });
}

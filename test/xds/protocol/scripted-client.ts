// A scripted xDS client for protocol tests: raw grpc-js bidi streams, one request at a time, and
// "await the next response (or fail after a timeout)". It models the parts of Envoy's behaviour that
// no installable client has (wildcard, Delta, stale nonces, reconnects: research/xds.md §0).
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import {
  DeltaDiscoveryRequestSchema,
  DeltaDiscoveryResponseSchema,
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
  SERVED_SERVICES,
  messageSchemaOfUrl,
  methodPath,
  unpackAny,
  type DeltaDiscoveryResponse,
  type DiscoveryResponse,
} from '../../../xds/index.js';

export interface StreamEnd {
  code: grpc.status;
  details: string;
}

const ADS = SERVED_SERVICES.find((s) => s.name === 'ads')!.descriptor;
export const ADS_SOTW_PATH = methodPath(ADS, 'StreamAggregatedResources');
export const ADS_DELTA_PATH = methodPath(ADS, 'DeltaAggregatedResources');

/** Path of a per-type service's method, e.g. servicePath('listeners', 'StreamListeners'). */
export function servicePath(service: string, method: string): string {
  const s = SERVED_SERVICES.find((x) => x.name === service);
  if (!s) throw new Error(`no service ${service}`);
  return methodPath(s.descriptor, method);
}

export class ScriptedStream<Req extends DescMessage, Resp extends DescMessage> {
  private readonly received: Array<MessageShape<Resp>> = [];
  private waiter: ((r: MessageShape<Resp> | Error) => void) | undefined;
  private endInfo: StreamEnd | undefined;
  private endWaiters: Array<(e: StreamEnd) => void> = [];
  private readonly call: grpc.ClientDuplexStream<MessageShape<Req>, MessageShape<Resp>>;

  constructor(
    client: grpc.Client,
    path: string,
    private readonly reqSchema: Req,
    respSchema: Resp,
  ) {
    this.call = client.makeBidiStreamRequest(
      path,
      (m: MessageShape<Req>) => Buffer.from(toBinary(reqSchema, m)),
      (b: Buffer) => fromBinary(respSchema, b),
    );
    this.call.on('data', (r: MessageShape<Resp>) => {
      if (this.waiter) {
        const w = this.waiter;
        this.waiter = undefined;
        w(r);
      } else this.received.push(r);
    });
    this.call.on('error', (err: grpc.ServiceError) => this.finish({ code: err.code, details: err.details }));
    this.call.on('status', (s: grpc.StatusObject) => this.finish({ code: s.code, details: s.details }));
  }

  private finish(e: StreamEnd): void {
    if (this.endInfo) return;
    this.endInfo = e;
    for (const w of this.endWaiters) w(e);
    this.endWaiters = [];
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      w(new Error(`stream ended (code ${e.code}: ${e.details}) while waiting for a response`));
    }
  }

  send(init: MessageInitShape<Req>): void {
    this.call.write(create(this.reqSchema, init));
  }

  /** The next response, or a rejection after `timeoutMs`. */
  next(timeoutMs = 3000): Promise<MessageShape<Resp>> {
    const queued = this.received.shift();
    if (queued) return Promise.resolve(queued);
    if (this.endInfo) return Promise.reject(new Error(`stream already ended (code ${this.endInfo.code}: ${this.endInfo.details})`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`no response within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = (r) => {
        clearTimeout(timer);
        if (r instanceof Error) reject(r);
        else resolve(r);
      };
    });
  }

  /** Resolves if nothing arrives for `ms`; rejects with the unexpected response otherwise. */
  async expectSilence(ms = 300): Promise<void> {
    try {
      const r = await this.next(ms);
      throw Object.assign(new Error(`expected no response, got one: ${JSON.stringify(summarize(r))}`), { unexpected: true });
    } catch (err) {
      if ((err as { unexpected?: boolean }).unexpected) throw err;
      if (this.endInfo) throw new Error(`stream ended (code ${this.endInfo.code}: ${this.endInfo.details})`);
    }
  }

  /** The status the stream ended with (waits up to `timeoutMs`). */
  ended(timeoutMs = 3000): Promise<StreamEnd> {
    if (this.endInfo) return Promise.resolve(this.endInfo);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`stream did not end within ${timeoutMs} ms`)), timeoutMs);
      this.endWaiters.push((e) => {
        clearTimeout(timer);
        resolve(e);
      });
    });
  }

  /** Half-closes and cancels the stream (as a client that goes away). */
  close(): void {
    this.call.cancel();
  }
}

function summarize(r: unknown): unknown {
  const o = r as { typeUrl?: string; versionInfo?: string; nonce?: string; resources?: unknown[]; removedResources?: string[] };
  return { typeUrl: o.typeUrl, version: o.versionInfo, nonce: o.nonce, resources: o.resources?.length, removed: o.removedResources };
}

export type SotwStream = ScriptedStream<typeof DiscoveryRequestSchema, typeof DiscoveryResponseSchema>;
export type DeltaStream = ScriptedStream<typeof DeltaDiscoveryRequestSchema, typeof DeltaDiscoveryResponseSchema>;

/** One client connection; opens as many streams as a test needs, and closes them all. */
export class ScriptedClient {
  private readonly client: grpc.Client;
  private readonly streams: Array<ScriptedStream<DescMessage, DescMessage>> = [];

  constructor(address: string) {
    this.client = new grpc.Client(address, grpc.credentials.createInsecure());
  }

  sotw(path = ADS_SOTW_PATH): SotwStream {
    const s = new ScriptedStream(this.client, path, DiscoveryRequestSchema, DiscoveryResponseSchema);
    this.streams.push(s as never);
    return s;
  }

  delta(path = ADS_DELTA_PATH): DeltaStream {
    const s = new ScriptedStream(this.client, path, DeltaDiscoveryRequestSchema, DeltaDiscoveryResponseSchema);
    this.streams.push(s as never);
    return s;
  }

  close(): void {
    for (const s of this.streams) s.close();
    this.client.close();
  }
}

/** Names of the resources in a SotW response (Envoy types decoded; other types by their UTF-8 bytes). */
export function sotwNames(r: DiscoveryResponse): string[] {
  return r.resources.map((any) => nameOfAny(any)).sort();
}

function nameOfAny(any: DiscoveryResponse['resources'][number]): string {
  if (!messageSchemaOfUrl(any.typeUrl)) return new TextDecoder().decode(any.value);
  const m = unpackAny(any).message as { name?: string; clusterName?: string };
  return m.clusterName || m.name || '';
}

export function deltaNames(r: DeltaDiscoveryResponse): string[] {
  return r.resources.map((x) => x.name).sort();
}

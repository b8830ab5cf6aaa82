// The second process of bench/xds: opens STREAMS ADS streams (SotW or Delta) over CONNECTIONS HTTP/2
// connections to the server under test, subscribes each to the wildcard Listener set as Envoy does,
// and ACKs every response at once. Driven by its parent over IPC:
//   {type: 'open', …} → {type: 'ready'} once every stream has its first response ACKed
//   {type: 'arm'}     → {type: 'armed'}; then {type: 'acked', ackWallMs} once every stream ACKed
//                        the next response (the parent pushes between 'armed' and that)
//   {type: 'close'}   → closes the streams and exits
// Messages are encoded with @bufbuild/protobuf from the same registry the server uses, through the
// xds layer's public entry.
import * as grpc from '@grpc/grpc-js';
import { create, fromBinary, toBinary, type DescMessage } from '@bufbuild/protobuf';
import { performance } from 'node:perf_hooks';
import { TYPE_URL, messageSchemaOfUrl } from '../../xds/index.js';

export type BenchMode = 'sotw' | 'delta';

export interface OpenCommand {
  type: 'open';
  address: string;
  streams: number;
  connections: number;
  mode: BenchMode;
}

export type ParentCommand = OpenCommand | { type: 'arm' } | { type: 'close' };

export type ChildReport =
  | { type: 'ready'; setupMs: number }
  | { type: 'armed' }
  | { type: 'acked'; ackWallMs: number[] }
  | { type: 'error'; message: string };

const ADS = '/envoy.service.discovery.v3.AggregatedDiscoveryService';
const identity = (b: Buffer): Buffer => b;

function schema(name: string): DescMessage {
  const s = messageSchemaOfUrl(`type.googleapis.com/envoy.service.discovery.v3.${name}`);
  if (!s) throw new Error(`load generator: no schema for ${name}`);
  return s;
}

/** Wall-clock milliseconds with sub-ms precision, comparable across processes on one machine. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now();
}

interface StreamState {
  call: grpc.ClientDuplexStream<Buffer, Buffer>;
  hasFirstResponse: boolean;
  ackedWallMs: number | undefined;
}

class LoadGenerator {
  private readonly req: DescMessage;
  private readonly resp: DescMessage;
  private readonly clients: grpc.Client[] = [];
  private readonly streams: StreamState[] = [];
  private firstResponses = 0;
  private isArmed = false;
  private armedAcks = 0;
  private openedWallMs = 0;

  constructor(
    private readonly mode: BenchMode,
    private readonly report: (r: ChildReport) => void,
  ) {
    this.req = schema(mode === 'sotw' ? 'DiscoveryRequest' : 'DeltaDiscoveryRequest');
    this.resp = schema(mode === 'sotw' ? 'DiscoveryResponse' : 'DeltaDiscoveryResponse');
  }

  open(cmd: OpenCommand): void {
    this.openedWallMs = wallMs();
    for (let c = 0; c < cmd.connections; c++) {
      // A local subchannel pool per client: each client gets its own HTTP/2 connection instead of
      // grpc-js sharing one subchannel among clients with equal targets and options.
      this.clients.push(new grpc.Client(cmd.address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 }));
    }
    const method = `${ADS}/${this.mode === 'sotw' ? 'StreamAggregatedResources' : 'DeltaAggregatedResources'}`;
    for (let i = 0; i < cmd.streams; i++) {
      const call = this.clients[i % cmd.connections]!.makeBidiStreamRequest(method, identity, identity);
      const state: StreamState = { call, hasFirstResponse: false, ackedWallMs: undefined };
      this.streams.push(state);
      call.on('data', (bytes: Buffer) => this.onResponse(state, bytes));
      call.on('error', (err: grpc.ServiceError) => {
        if (err.code !== grpc.status.CANCELLED) this.report({ type: 'error', message: `stream ${i}: ${err.code} ${err.details}` });
      });
      const node = { id: `bench-node-${i}`, cluster: 'bench', userAgentName: 'envoy' };
      call.write(this.encode(this.mode === 'sotw' ? { node, typeUrl: TYPE_URL.listener, resourceNames: [] } : { node, typeUrl: TYPE_URL.listener, resourceNamesSubscribe: ['*'] }));
    }
  }

  arm(): void {
    this.isArmed = true;
    this.armedAcks = 0;
    for (const s of this.streams) s.ackedWallMs = undefined;
    this.report({ type: 'armed' });
  }

  close(): void {
    for (const s of this.streams) s.call.cancel();
    for (const c of this.clients) c.close();
  }

  private onResponse(state: StreamState, bytes: Buffer): void {
    const resp = fromBinary(this.resp, bytes) as unknown as { nonce: string; versionInfo?: string; typeUrl: string };
    // ACK at once: a request echoing the nonce (and, in SotW, the version) without error_detail.
    state.call.write(this.encode(this.mode === 'sotw' ? { typeUrl: resp.typeUrl, versionInfo: resp.versionInfo, responseNonce: resp.nonce } : { typeUrl: resp.typeUrl, responseNonce: resp.nonce }));
    const now = wallMs();
    if (!state.hasFirstResponse) {
      state.hasFirstResponse = true;
      if (++this.firstResponses === this.streams.length) this.report({ type: 'ready', setupMs: now - this.openedWallMs });
      return;
    }
    if (this.isArmed && state.ackedWallMs === undefined) {
      state.ackedWallMs = now;
      if (++this.armedAcks === this.streams.length) {
        this.isArmed = false;
        this.report({ type: 'acked', ackWallMs: this.streams.map((s) => s.ackedWallMs!) });
      }
    }
  }

  private encode(init: object): Buffer {
    return Buffer.from(toBinary(this.req, create(this.req, init as never)));
  }
}

function main(): void {
  if (!process.send) throw new Error('load-generator.js runs as a forked child of bench/xds');
  const send = (r: ChildReport) => process.send!(r);
  let generator: LoadGenerator | undefined;
  process.on('message', (cmd: ParentCommand) => {
    try {
      if (cmd.type === 'open') (generator = new LoadGenerator(cmd.mode, send)).open(cmd);
      else if (cmd.type === 'arm') generator?.arm();
      else if (cmd.type === 'close') {
        generator?.close();
        process.disconnect();
        setTimeout(() => process.exit(0), 200).unref();
      }
    } catch (err) {
      send({ type: 'error', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
    }
  });
}

main();

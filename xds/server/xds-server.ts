// The xDS server: every discovery service on one grpc-js server, bound to unix sockets and/or TCP.
import * as grpc from '@grpc/grpc-js';
import { NOOP_LOGGER, XdsServerError, type SnapshotCache, type XdsLogger } from '../cache/index.js';
import { newMetrics, type XdsServerCallbacks, type XdsServerMetrics } from './callbacks.js';
import { SERVED_SERVICES, grpcDefinitionOf, handlersOf } from './ads.js';
import { DEFAULT_MAX_RESPONSE_BYTES } from './encode-response.js';
import { parseListenAddress, removeStaleSocket } from './listen-address.js';
import type { ServerContext } from './server-context.js';

export interface XdsServerOptions {
  cache: SnapshotCache;
  logger?: XdsLogger;
  callbacks?: XdsServerCallbacks;
  /** Largest response sent; bigger pushes are split (default 4 MiB, the grpc-js and Envoy receive limit). */
  maxResponseBytes?: number;
  /** Largest request accepted: Delta reconnects carry every held name and version (Envoy Gateway PR #9564). */
  maxRequestBytes?: number;
  /** How long an ADS type waits for an earlier type's answer before going out anyway (default 2000 ms). */
  orderHoldMs?: number;
}

const DEFAULT_MAX_REQUEST_BYTES = 64 * 1024 * 1024;
const SHUTDOWN_GRACE_MS = 2000;

export class XdsServer {
  readonly metrics: XdsServerMetrics = newMetrics();
  private readonly grpcServer: grpc.Server;
  private readonly ctx: ServerContext;
  private readonly logger: XdsLogger;
  private closed = false;

  constructor(opts: XdsServerOptions) {
    this.logger = opts.logger ?? NOOP_LOGGER;
    let streamId = 0;
    this.ctx = {
      cache: opts.cache,
      logger: this.logger,
      callbacks: opts.callbacks ?? {},
      metrics: this.metrics,
      maxResponseBytes: opts.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES,
      orderHoldMs: opts.orderHoldMs ?? 2000,
      nextStreamId: () => ++streamId,
      streams: new Set(),
    };
    this.grpcServer = new grpc.Server({
      'grpc.max_receive_message_length': opts.maxRequestBytes ?? DEFAULT_MAX_REQUEST_BYTES,
      'grpc.max_send_message_length': -1,
    });
    for (const served of SERVED_SERVICES) this.grpcServer.addService(grpcDefinitionOf(served.descriptor), handlersOf(served, this.ctx));
  }

  /** 'unix:/path' or 'host:port' (port 0 → ephemeral); resolves to the bound address. May be called for several addresses. */
  async listen(address: string): Promise<string> {
    if (this.closed) throw new XdsServerError('MESHD_ERR_XDS_SERVER_CLOSED', `listen(${address}) after close()`);
    const parsed = parseListenAddress(address);
    if (parsed.kind === 'unix') await removeStaleSocket(parsed.path);
    const target = parsed.kind === 'unix' ? `unix:${parsed.path}` : `${parsed.host}:${parsed.port}`;
    const port = await new Promise<number>((resolve, reject) => {
      this.grpcServer.bindAsync(target, grpc.ServerCredentials.createInsecure(), (err, boundPort) => {
        if (err) reject(new XdsServerError('MESHD_ERR_XDS_BIND', `cannot listen on ${address}: ${err.message}`, parsed.kind === 'unix' ? 'is another meshd serving that socket, or is its directory missing or read-only?' : 'is the port in use? Ports above 32767 may be held by ephemeral connections'));
        else resolve(boundPort);
      });
    });
    const bound = parsed.kind === 'unix' ? `unix:${parsed.path}` : `${parsed.host}:${port}`;
    this.logger.info({ address: bound }, 'xds: listening');
    return bound;
  }

  /** Ends every stream (clients see status OK and reconnect elsewhere), then stops the gRPC server. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of [...this.ctx.streams]) s.end();
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.grpcServer.forceShutdown();
        resolve();
      }, SHUTDOWN_GRACE_MS);
      timer.unref();
      this.grpcServer.tryShutdown(() => {
        clearTimeout(timer);
        resolve();
      });
    });
    this.logger.info({}, 'xds: server closed');
  }
}

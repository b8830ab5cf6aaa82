// Envoy's tcp_proxy as the terminal network filter: pick an endpoint of the cluster, connect, then
// copy bytes both ways. pipe() gives backpressure in each direction (a slow reader pauses the other
// side's socket) and forwards a half-close: a FIN from one peer ends only the other connection's
// write side, so request/response protocols that shut down their sending side keep working.
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { TcpFlowRecord } from '../flow/index.js';
import type { ClusterManager, PickContext } from '../upstream/index.js';
import type { CoarseClock, ProxyLogger } from './types.js';

export interface TcpProxyRun {
  downstream: Socket | TLSSocket;
  cluster: string;
  /** 0 disables (Envoy's default is 1 h, applied by the config compiler). */
  idleTimeoutMs: number;
  clusters: ClusterManager;
  pick: PickContext;
  clock: CoarseClock;
  logger: ProxyLogger | undefined;
  /** Completes and publishes the connection's flow record. */
  finish(record: Pick<TcpFlowRecord, 'verdict' | 'reason' | 'upstream' | 'bytesSent' | 'bytesReceived'>): void;
}

export function runTcpProxy(run: TcpProxyRun): void {
  const { downstream } = run;
  const picked = run.clusters.pick(run.cluster, run.pick);
  if (!picked.ok) {
    run.logger?.debug({ cluster: run.cluster, reason: picked.reason }, 'tcp_proxy: no upstream');
    downstream.destroy();
    run.finish({ verdict: 'ERROR', reason: picked.reason, upstream: undefined, bytesSent: 0, bytesReceived: 0 });
    return;
  }
  const { target } = picked;
  const upstreamInfo = { cluster: target.cluster.name, address: target.address, port: target.port };
  let downstreamGone = false;
  const onEarlyClose = (): void => {
    downstreamGone = true;
  };
  downstream.once('close', onEarlyClose);
  run.clusters.connect(target, { alpnProtocols: [] }).then(
    (upstream) => {
      downstream.off('close', onEarlyClose);
      if (downstreamGone || downstream.destroyed) {
        upstream.destroy();
        run.finish({ verdict: 'ERROR', reason: 'downstream_closed', upstream: upstreamInfo, bytesSent: 0, bytesReceived: 0 });
        return;
      }
      pipeBoth(run, downstream, upstream, upstreamInfo);
    },
    (err: Error & { code?: string }) => {
      downstream.off('close', onEarlyClose);
      run.logger?.debug({ err, cluster: run.cluster }, 'tcp_proxy: upstream connect failed');
      downstream.destroy();
      run.finish({
        verdict: 'ERROR',
        reason: err.code === 'MESHD_ERR_PROXY_UPSTREAM_TLS' ? 'upstream_tls_failed' : 'upstream_connect_failed',
        upstream: upstreamInfo,
        bytesSent: 0,
        bytesReceived: 0,
      });
    },
  );
}

function pipeBoth(run: TcpProxyRun, downstream: Socket | TLSSocket, upstream: Socket | TLSSocket, upstreamInfo: { cluster: string; address: string; port: number }): void {
  let closed = 0;
  let errored = false;
  let idleTimedOut = false;
  const idle = run.clock.timeout(run.idleTimeoutMs, () => {
    idleTimedOut = true;
    run.logger?.debug({ cluster: run.cluster }, 'tcp_proxy: idle timeout');
    downstream.destroy();
    upstream.destroy();
  });
  const refresh = (): void => idle.refresh();
  const onError = (): void => {
    // Envoy closes both sides when either fails; a reset on one side becomes a close on the other.
    errored = true;
    downstream.destroy();
    upstream.destroy();
  };
  const onClose = (hadError: boolean): void => {
    closed += 1;
    if (closed === 1) {
      // A clean close means both FINs were exchanged and the other socket is flushing its last
      // bytes; it closes by itself. An abortive close takes the other side down with it.
      if (hadError) onError();
      return;
    }
    idle.cancel();
    run.finish({
      verdict: errored ? 'ERROR' : 'FORWARDED',
      reason: errored ? 'connection_reset' : idleTimedOut ? 'idle_timeout' : undefined,
      upstream: upstreamInfo,
      bytesSent: upstream.bytesWritten,
      bytesReceived: upstream.bytesRead,
    });
  };
  downstream.on('error', onError);
  upstream.on('error', onError);
  downstream.once('close', onClose);
  upstream.once('close', onClose);
  downstream.on('data', refresh);
  upstream.on('data', refresh);
  downstream.pipe(upstream);
  upstream.pipe(downstream);
}

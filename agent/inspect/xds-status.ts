// `meshd xds status`: per proxy node, whether it is connected (since when), which version of
// each resource type it ACKed, and the last NACK with the proxy's message.
import type { XdsPublisherStatus } from '../xds-publish/index.js';
import { renderTable } from './table.js';

export type XdsStatusReport = XdsPublisherStatus;

/** `type.googleapis.com/envoy.config.listener.v3.Listener` → `Listener`. */
export function shortTypeName(typeUrl: string): string {
  const last = typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  return last.slice(last.lastIndexOf('.') + 1) || typeUrl;
}

export function renderXdsStatus(s: XdsStatusReport): string {
  let out = `xDS server ${s.socket}  snapshot version ${s.version}${s.lastPushAt ? `  last push ${s.lastPushAt}` : ''}${s.lastPushDurationMs !== undefined ? ` (${s.lastPushDurationMs.toFixed(1)} ms)` : ''}\n`;
  if (s.proxies.length === 0) return out + '(no proxy nodes)\n';
  out += '\n' + renderTable(
    ['NODE', 'TARGET', 'CONNECTED SINCE', 'STREAMS', 'SNAPSHOT', 'IN SYNC', 'NACKS'],
    s.proxies.map((p) => {
      const since = p.streams.map((st) => st.openedAt).sort()[0];
      return [p.nodeId, p.target, p.connected && since ? since : 'not connected', String(p.streams.length), p.snapshotVersion ?? '-', p.inSync ? 'yes' : 'no', String(p.nacks)];
    }),
  );
  for (const p of s.proxies) {
    if (p.types.length === 0) continue;
    out += `\n${p.nodeId}:\n`;
    out += renderTable(
      ['TYPE', 'SENT', 'ACKED', 'ACKED AT', 'LAST NACK'],
      p.types.map((t) => [
        shortTypeName(t.typeUrl),
        t.sentVersion ?? '-',
        t.ackedVersion ?? '-',
        t.ackedAt ?? '-',
        t.lastNack ? `version ${t.lastNack.version} at ${t.lastNack.at}: ${t.lastNack.message.replace(/\s+/g, ' ')}` : '-',
      ]),
    )
      .split('\n')
      .map((line) => (line === '' ? line : `  ${line}`))
      .join('\n');
  }
  return out;
}

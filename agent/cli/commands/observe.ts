// `meshd observe`: the agent's flows, printed as hubble would (compact), as JSON lines, or as a
// table; `--service-map FILE` writes the SVG picture instead.
import { writeFile } from 'node:fs/promises';
import { ApiClient, type ApiQuery } from '../../api/index.js';
import { renderServiceMapSvg, type Flow, type FlowEndpointRef, type FlowListResponse, type ServiceMap } from '../../flows/index.js';
import type { CommandContext } from '../command-spec.js';
import type { CliIo } from '../cli-io.js';
import { getList, getString, hasFlag, type ParsedArgs } from '../parsed-args.js';

export const DEFAULT_LAST = 20;

type Format = 'compact' | 'json' | 'table';

function queryOf(args: ParsedArgs): ApiQuery {
  return {
    pod: getList(args, 'pod'),
    'from-pod': getList(args, 'from-pod'),
    'to-pod': getList(args, 'to-pod'),
    verdict: getList(args, 'verdict'),
    protocol: getList(args, 'protocol'),
  };
}

export async function run(args: ParsedArgs, { io }: CommandContext): Promise<0> {
  const client = ApiClient.forStateDir(getString(args, 'state-dir'));
  try {
    const format = (getString(args, 'output') ?? 'compact') as Format;
    const last = getString(args, 'last');
    const mapFile = getString(args, 'service-map');
    if (mapFile !== undefined) {
      const map = await client.get<ServiceMap>('/v1/service-map', { ...queryOf(args), last });
      await writeFile(mapFile, renderServiceMapSvg(map));
      io.stdout(`service map of ${map.nodes.length} peers and ${map.edges.length} edges written to ${mapFile}\n`);
      return 0;
    }
    if (!hasFlag(args, 'follow')) {
      const { flows } = await client.get<FlowListResponse>('/v1/flows', { ...queryOf(args), last: last ?? String(DEFAULT_LAST) });
      io.stdout(format === 'table' ? renderFlowTable(flows) : flows.map((f) => formatFlow(f, format) + '\n').join(''));
      return 0;
    }
    await follow(client, { ...queryOf(args), follow: '1', last: last ?? '0' }, format, io);
    return 0;
  } finally {
    client.close();
  }
}

/** Prints until SIGINT/SIGTERM (or the agent ends the stream). */
async function follow(client: ApiClient, query: ApiQuery, format: Format, io: CliIo): Promise<void> {
  const abort = new AbortController();
  const stop = (): void => abort.abort();
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  try {
    if (format === 'table') io.stdout(tableHeader());
    for await (const flow of client.stream<Flow>('/v1/flows', query, abort.signal)) {
      io.stdout((format === 'table' ? tableRow(flow, FOLLOW_WIDTHS) : formatFlow(flow, format)) + '\n');
    }
  } finally {
    process.removeListener('SIGINT', stop);
    process.removeListener('SIGTERM', stop);
  }
}

/** `Nov 21 10:00:00.123`, as hubble prints times. */
export function formatTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  const month = d.toLocaleString('en-US', { month: 'short', timeZone: 'UTC' });
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  return `${month} ${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())}.${pad(d.getUTCMilliseconds(), 3)}`;
}

/** A pod name when the address is a pod's; else the address and the identity's telling label. */
export function formatPeer(ref: FlowEndpointRef, withPort = true): string {
  const host = ref.pod ?? (ref.ip.includes(':') ? `[${ref.ip}]` : ref.ip);
  const port = withPort && ref.port ? `:${ref.port}` : '';
  if (ref.pod !== undefined) return `${host}${port}`;
  const label = ref.labels?.find((l) => l.startsWith('reserved:') || l.startsWith('fqdn:'));
  return `${host}${port}${label ? ` (${label})` : ref.identity !== undefined ? ` (ID:${ref.identity})` : ''}`;
}

export function formatFlow(flow: Flow, format: Format): string {
  if (format === 'json') return JSON.stringify(flow);
  const policy = flow.policy !== undefined ? ` policy=${flow.policy}` : '';
  const reason = flow.reason !== undefined && flow.verdict !== 'FORWARDED' ? ` reason=${flow.reason}` : '';
  // The source port of a connect is 0 (not bound yet): leave it out rather than print :0.
  return `${formatTime(flow.time)} ${formatPeer(flow.source)} -> ${formatPeer(flow.destination)} ${flow.protocol} ${flow.verdict} (${flow.layer}${policy}${reason}) ${flow.summary}`;
}

const COLUMNS = ['TIME', 'SOURCE', 'DESTINATION', 'PROTO', 'VERDICT', 'LAYER', 'POLICY', 'SUMMARY'] as const;
const FOLLOW_WIDTHS = [19, 28, 34, 6, 10, 6, 28];

function cells(flow: Flow): string[] {
  return [formatTime(flow.time), formatPeer(flow.source), formatPeer(flow.destination), flow.protocol, flow.verdict, flow.layer, flow.policy ?? '-', flow.summary];
}

function tableRow(flow: Flow, widths: number[]): string {
  return cells(flow)
    .map((c, i) => (i < widths.length ? c.padEnd(widths[i]!) : c))
    .join('  ')
    .trimEnd();
}

function tableHeader(): string {
  return (
    COLUMNS.map((c, i) => (i < FOLLOW_WIDTHS.length ? c.padEnd(FOLLOW_WIDTHS[i]!) : c))
      .join('  ')
      .trimEnd() + '\n'
  );
}

export function renderFlowTable(flows: Flow[]): string {
  if (flows.length === 0) return 'no flows\n';
  const rows = flows.map(cells);
  const widths = COLUMNS.slice(0, -1).map((c, i) => Math.max(c.length, ...rows.map((r) => r[i]!.length)));
  const line = (r: readonly string[]) =>
    r
      .map((c, i) => (i < widths.length ? c.padEnd(widths[i]!) : c))
      .join('  ')
      .trimEnd();
  return [line(COLUMNS), ...rows.map(line)].join('\n') + '\n';
}

// The service map as an SVG picture. Hand-written rather than a graph library: the picture is a
// circle of nodes and straight edges, a few dozen lines, and a layout library would pull a DOM or
// a native renderer into the CLI. The layout is deterministic (nodes sorted by id, placed clockwise
// from the top), so the same flows always give the same file.
import type { ServiceMap, ServiceMapNode } from './service-map.js';

const NODE_W = 190;
const NODE_H = 36;
const MARGIN = 40;

export function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function fixed(n: number): string {
  return (Math.round(n * 10) / 10).toString();
}

interface Placed {
  node: ServiceMapNode;
  x: number;
  y: number;
}

function place(nodes: ServiceMapNode[]): { placed: Map<string, Placed>; width: number; height: number } {
  const n = nodes.length;
  // Enough circumference for every box side by side, and never a tiny circle.
  const radius = n <= 1 ? 0 : Math.max(160, (n * (NODE_W * 0.75)) / (2 * Math.PI));
  const cx = MARGIN + NODE_W / 2 + radius;
  const cy = MARGIN + NODE_H / 2 + radius + 20;
  const placed = new Map<string, Placed>();
  nodes.forEach((node, i) => {
    const angle = -Math.PI / 2 + (2 * Math.PI * i) / Math.max(1, n);
    placed.set(node.id, { node, x: cx + radius * Math.cos(angle), y: cy + radius * Math.sin(angle) });
  });
  return { placed, width: 2 * cx, height: 2 * cy };
}

/** Where the line from the centre of a box towards (tx, ty) leaves the box. */
function boxExit(p: Placed, tx: number, ty: number): [number, number] {
  const dx = tx - p.x;
  const dy = ty - p.y;
  if (dx === 0 && dy === 0) return [p.x, p.y];
  const scale = Math.min(Math.abs(NODE_W / 2 / (dx || 1e-9)), Math.abs(NODE_H / 2 / (dy || 1e-9)));
  return [p.x + dx * scale, p.y + dy * scale];
}

export function renderServiceMapSvg(map: ServiceMap, title = 'meshd service map'): string {
  const { placed, width, height } = place(map.nodes);
  const out: string[] = [];
  out.push('<?xml version="1.0" encoding="UTF-8"?>');
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${fixed(width)}" height="${fixed(height)}" viewBox="0 0 ${fixed(width)} ${fixed(height)}" font-family="sans-serif" font-size="12">`);
  out.push(`<title>${escapeXml(title)}</title>`);
  out.push('<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M 0 0 L 10 5 L 0 10 z" fill="#555"/></marker></defs>');
  out.push(`<rect x="0" y="0" width="${fixed(width)}" height="${fixed(height)}" fill="#ffffff"/>`);
  out.push(`<text x="${MARGIN}" y="24" font-size="14" font-weight="bold">${escapeXml(title)}</text>`);
  out.push('<g class="edges">');
  for (const e of map.edges) {
    const a = placed.get(e.from);
    const b = placed.get(e.to);
    if (!a || !b) continue;
    const colour = e.denied > 0 && e.allowed === 0 ? '#c0392b' : e.denied > 0 ? '#d68910' : '#1e8449';
    const data = `data-from="${escapeXml(e.from)}" data-to="${escapeXml(e.to)}" data-allowed="${e.allowed}" data-denied="${e.denied}" data-errors="${e.errors}"`;
    if (a === b) {
      // A pod talking to itself: a loop above its box.
      const top = a.y - NODE_H / 2;
      out.push(`<g class="edge" ${data}><path d="M ${fixed(a.x - 20)} ${fixed(top)} C ${fixed(a.x - 30)} ${fixed(top - 40)} ${fixed(a.x + 30)} ${fixed(top - 40)} ${fixed(a.x + 20)} ${fixed(top)}" fill="none" stroke="${colour}" stroke-width="1.5" marker-end="url(#arrow)"/>`);
      out.push(`<text x="${fixed(a.x)}" y="${fixed(top - 34)}" text-anchor="middle" paint-order="stroke" stroke="#ffffff" stroke-width="4">${edgeLabel(e)}</text></g>`);
      continue;
    }
    const [x1, y1] = boxExit(a, b.x, b.y);
    const [x2, y2] = boxExit(b, a.x, a.y);
    // Two edges between the same pair in both directions: shift each to its own side.
    const len = Math.hypot(x2 - x1, y2 - y1) || 1;
    const ox = (-(y2 - y1) / len) * 6;
    const oy = ((x2 - x1) / len) * 6;
    out.push(`<g class="edge" ${data}><line x1="${fixed(x1 + ox)}" y1="${fixed(y1 + oy)}" x2="${fixed(x2 + ox)}" y2="${fixed(y2 + oy)}" stroke="${colour}" stroke-width="1.5" marker-end="url(#arrow)"/>`);
    out.push(`<text x="${fixed((x1 + x2) / 2 + ox * 2)}" y="${fixed((y1 + y2) / 2 + oy * 2)}" text-anchor="middle" paint-order="stroke" stroke="#ffffff" stroke-width="4">${edgeLabel(e)}</text></g>`);
  }
  out.push('</g>');
  out.push('<g class="nodes">');
  for (const p of placed.values()) {
    const fill = p.node.kind === 'pod' ? '#d6eaf8' : p.node.kind === 'identity' ? '#fdebd0' : '#eaeded';
    out.push(
      `<g class="node" data-id="${escapeXml(p.node.id)}" data-kind="${p.node.kind}"><rect x="${fixed(p.x - NODE_W / 2)}" y="${fixed(p.y - NODE_H / 2)}" width="${NODE_W}" height="${NODE_H}" rx="6" fill="${fill}" stroke="#34495e"/>` +
        `<text x="${fixed(p.x)}" y="${fixed(p.y + 4)}" text-anchor="middle">${escapeXml(shorten(p.node.label))}</text></g>`,
    );
  }
  out.push('</g>');
  out.push('</svg>');
  return out.join('\n') + '\n';
}

function edgeLabel(e: { allowed: number; denied: number; errors: number }): string {
  return escapeXml(`allowed ${e.allowed} / denied ${e.denied}${e.errors ? ` / errors ${e.errors}` : ''}`);
}

function shorten(label: string): string {
  return label.length > 28 ? `${label.slice(0, 27)}…` : label;
}

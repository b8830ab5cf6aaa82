import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { buildServiceMap } from './service-map.js';
import { renderServiceMapSvg } from './service-map-svg.js';
import type { Flow, FlowVerdict } from './types.js';

let nextId = 1;
function flow(from: string | undefined, to: string | undefined, verdict: FlowVerdict, o: Partial<Flow> = {}): Flow {
  return {
    id: nextId++,
    time: '2026-11-21T10:00:00.000Z',
    layer: 'proxy',
    verdict,
    protocol: 'http',
    source: { ip: '10.0.0.1', port: 1, ...(from ? { pod: from } : {}) },
    destination: { ip: '10.0.0.2', port: 80, ...(to ? { pod: to } : {}) },
    summary: '',
    ...o,
  };
}

/** A small XML well-formedness check (no parser is a dependency): tags balance, attributes are quoted, entities known. */
function parseXml(text: string): Array<{ name: string; attrs: Record<string, string>; text: string }> {
  const elements: Array<{ name: string; attrs: Record<string, string>; text: string }> = [];
  const stack: Array<{ name: string; attrs: Record<string, string>; text: string }> = [];
  const body = text.replace(/^<\?xml[^?]*\?>\s*/, '');
  const token = /<\/([A-Za-z][\w:-]*)\s*>|<([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  let m: RegExpExecArray | null;
  let at = 0;
  while (at < body.length && (m = token.exec(body))) {
    at = token.lastIndex;
    if (m[1]) {
      const open = stack.pop();
      assert.equal(open?.name, m[1], `</${m[1]}> closes <${open?.name}>`);
    } else if (m[2]) {
      const attrs: Record<string, string> = {};
      for (const a of m[3]!.matchAll(/([\w:-]+)="([^"]*)"/g)) {
        assert.ok(!(a[1]! in attrs), `duplicate attribute ${a[1]}`);
        attrs[a[1]!] = a[2]!;
      }
      const el = { name: m[2], attrs, text: '' };
      elements.push(el);
      if (m[4] !== '/') stack.push(el);
    } else {
      const t = m[5]!;
      assert.doesNotMatch(t.replace(/&(lt|gt|amp|quot|apos);/g, ''), /&/, 'a bare & in text');
      if (stack.length) stack[stack.length - 1]!.text += t.trim();
      else assert.equal(t.trim(), '', 'text outside the root');
    }
  }
  assert.equal(at, body.length, `unparsable XML at ${body.slice(at, at + 40)}`);
  assert.equal(stack.length, 0, 'unclosed elements');
  return elements;
}

describe('the service map', () => {
  const flows = [
    flow('empire/tiefighter', 'empire/deathstar', 'FORWARDED'),
    flow('empire/tiefighter', 'empire/deathstar', 'FORWARDED'),
    flow('empire/tiefighter', 'empire/deathstar', 'DENIED'),
    flow('alliance/xwing', 'empire/deathstar', 'DROPPED', { layer: 'kernel', protocol: 'tcp' }),
    flow('alliance/xwing', 'empire/deathstar', 'DROPPED', { layer: 'kernel', protocol: 'tcp' }),
    flow('empire/tiefighter', undefined, 'FORWARDED', { protocol: 'dns', destination: { ip: '10.0.0.53', port: 53, identity: 2, labels: ['reserved:world', 'cidr:0.0.0.0/0'] } }),
    flow('empire/tiefighter', 'empire/deathstar', 'REDIRECTED', { layer: 'kernel', protocol: 'tcp' }),
  ];

  test('aggregates one edge per pair with allowed and denied counts', () => {
    const map = buildServiceMap(flows);
    assert.deepEqual(
      map.nodes.map((n) => n.id),
      ['identity:2', 'pod:alliance/xwing', 'pod:empire/deathstar', 'pod:empire/tiefighter'],
    );
    const edge = (from: string, to: string) => map.edges.find((e) => e.from === from && e.to === to);
    assert.deepEqual(edge('pod:empire/tiefighter', 'pod:empire/deathstar'), { from: 'pod:empire/tiefighter', to: 'pod:empire/deathstar', allowed: 2, denied: 1, errors: 0, redirected: 1, ports: ['80/http', '80/tcp'] });
    assert.equal(edge('pod:alliance/xwing', 'pod:empire/deathstar')?.denied, 2);
    assert.equal(map.nodes.find((n) => n.id === 'identity:2')?.label, 'reserved:world (2)');
  });

  test('renders well-formed SVG with one node per peer and the counts on the edges', () => {
    const svg = renderServiceMapSvg(buildServiceMap(flows));
    const elements = parseXml(svg);
    assert.equal(elements[0]?.name, 'svg');
    const nodes = elements.filter((e) => e.name === 'g' && e.attrs['class'] === 'node');
    assert.deepEqual(nodes.map((n) => n.attrs['data-id']).sort(), ['identity:2', 'pod:alliance/xwing', 'pod:empire/deathstar', 'pod:empire/tiefighter']);
    const edges = elements.filter((e) => e.name === 'g' && e.attrs['class'] === 'edge');
    assert.equal(edges.length, 3);
    const tie = edges.find((e) => e.attrs['data-from'] === 'pod:empire/tiefighter' && e.attrs['data-to'] === 'pod:empire/deathstar');
    assert.equal(tie?.attrs['data-allowed'], '2');
    assert.equal(tie?.attrs['data-denied'], '1');
    const texts = elements.filter((e) => e.name === 'text').map((e) => e.text);
    assert.ok(texts.includes('allowed 2 / denied 1'), texts.join(' | '));
    assert.ok(texts.includes('allowed 0 / denied 2'));
    assert.ok(texts.includes('empire/deathstar'));
  });

  test('the same flows give the same picture, and names are escaped', () => {
    const odd = [flow('ns/a&b', 'ns/<c>', 'FORWARDED')];
    assert.equal(renderServiceMapSvg(buildServiceMap(odd)), renderServiceMapSvg(buildServiceMap([...odd])));
    parseXml(renderServiceMapSvg(buildServiceMap(odd)));
    parseXml(renderServiceMapSvg(buildServiceMap([])));
    parseXml(renderServiceMapSvg(buildServiceMap([flow('ns/self', 'ns/self', 'FORWARDED')])));
  });
});

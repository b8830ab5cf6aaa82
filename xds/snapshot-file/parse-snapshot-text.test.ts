import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE_URL } from '../codec/index.js';
import { grpcSnapshotDocument, grpcSnapshotYaml } from '../../test/xds/grpc-snapshot-builder.js';
import { buildSnapshotFromText } from './load-snapshot-file.js';
import { codecPathSteps, parseSnapshotText } from './parse-snapshot-text.js';
import { XdsSnapshotFileError, type XdsSnapshotFileProblem } from './errors.js';

const OPTS = { serviceName: 'greeter.local', backendPorts: [21001, 21002], serverPorts: [21010], deniedPaths: ['/hw.Greeter/Secret'] };

function problemsOf(text: string, file = 'snap.yaml'): XdsSnapshotFileProblem[] {
  return parseSnapshotText(file, text).problems;
}

/** Every resource of a snapshot as name → bytes, per type: what the server would send. */
function encoded(text: string): Record<string, Record<string, string>> {
  const { snapshot } = buildSnapshotFromText('snap', text);
  const out: Record<string, Record<string, string>> = {};
  for (const typeUrl of Object.values(TYPE_URL)) {
    out[typeUrl] = Object.fromEntries([...snapshot.resources(typeUrl)].map(([name, r]) => [name, Buffer.from(r.body).toString('hex')]));
  }
  return out;
}

describe('snapshot file layouts', () => {
  test('a resources: list with "@type" on each resource loads every kind', () => {
    const { contents, problems } = parseSnapshotText('snap.json', JSON.stringify(grpcSnapshotDocument(OPTS)));
    assert.deepEqual(problems, []);
    assert.deepEqual(
      [contents.listeners.length, contents.routes.length, contents.clusters.length, contents.endpoints.length],
      [2, 1, 1, 1],
    );
    assert.equal(contents.endpoints[0]!.clusterName, 'cluster-greeter.local');
  });

  test('typed lists in YAML and a JSON resources: list give byte-identical resources', () => {
    assert.deepEqual(encoded(grpcSnapshotYaml(OPTS)), encoded(JSON.stringify(grpcSnapshotDocument(OPTS))));
  });

  test("Envoy's static_resources is read as is, beside top-level routes and endpoints", () => {
    const doc = grpcSnapshotDocument(OPTS) as { resources: Array<Record<string, unknown>> };
    const strip = (r: Record<string, unknown>) => Object.fromEntries(Object.entries(r).filter(([k]) => k !== '@type'));
    const ofType = (t: string) => doc.resources.filter((r) => r['@type'] === t).map(strip);
    const bootstrapStyle = {
      static_resources: { listeners: ofType(TYPE_URL.listener), clusters: ofType(TYPE_URL.cluster) },
      routes: ofType(TYPE_URL.route),
      endpoints: ofType(TYPE_URL.endpoint),
    };
    assert.deepEqual(encoded(JSON.stringify(bootstrapStyle)), encoded(JSON.stringify(doc)));
  });

  test('a version: key becomes the snapshot version; without it the cache derives one', () => {
    assert.equal(parseSnapshotText('s', grpcSnapshotYaml({ ...OPTS, version: 'v7' })).contents.version, 'v7');
    assert.equal(parseSnapshotText('s', grpcSnapshotYaml(OPTS)).contents.version, undefined);
  });

  test('several YAML documents in one file add up', () => {
    const text = `clusters:\n  - name: a\n    type: STATIC\n---\nclusters:\n  - name: b\n    type: STATIC\n`;
    const { contents, problems } = parseSnapshotText('s', text);
    assert.deepEqual(problems, []);
    assert.deepEqual(contents.clusters.map((c) => c.name), ['a', 'b']);
  });

  test('an empty file is an empty snapshot', () => {
    const { contents, problems } = parseSnapshotText('s', '# nothing yet\n');
    assert.deepEqual(problems, []);
    assert.equal(contents.listeners.length + contents.clusters.length, 0);
  });
});

describe('snapshot file problems name the file, line:col and field path', () => {
  test('an unknown field inside an Any is reported at its key, with the path through the Any', () => {
    const text = [
      'listeners:',
      '  - name: l1',
      '    api_listener:',
      '      api_listener:',
      '        "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
      '        stat_prefix: x',
      '        bogus_field: 1',
      '',
    ].join('\n');
    const [p, ...rest] = problemsOf(text);
    assert.deepEqual(rest, []);
    assert.equal(p!.code, 'MESHD_ERR_XDS_UNKNOWN_FIELD');
    assert.equal(p!.path, 'listeners[0].api_listener.api_listener<HttpConnectionManager>.bogus_field');
    assert.deepEqual(p!.position, { file: 'snap.yaml', line: 7, col: 9 });
  });

  test('a bad enum value is reported at the resource with the codec code', () => {
    const [p] = problemsOf('clusters:\n  - name: c\n    type: NOT_A_TYPE\n');
    assert.equal(p!.code, 'MESHD_ERR_XDS_INVALID_VALUE');
    assert.match(p!.message, /NOT_A_TYPE|type/);
    assert.equal(p!.position.line, 2);
  });

  test('an unknown top-level key is a shape problem at that key', () => {
    const [p] = problemsOf('admin:\n  address: {}\nclusters: []\n');
    assert.equal(p!.code, 'MESHD_ERR_XDS_SNAPSHOT_FILE_SHAPE');
    assert.equal(p!.path, 'admin');
    assert.deepEqual([p!.position.line, p!.position.col], [1, 1]);
    assert.match(p!.hint ?? '', /static_resources/);
  });

  test('routes inside static_resources are refused with a pointer to the top-level list', () => {
    const [p] = problemsOf('static_resources:\n  routes: []\n');
    assert.equal(p!.code, 'MESHD_ERR_XDS_SNAPSHOT_FILE_SHAPE');
    assert.equal(p!.path, 'static_resources.routes');
    assert.match(p!.hint ?? '', /top-level routes/);
  });

  test('a resource in resources: without "@type" is refused', () => {
    const [p] = problemsOf('resources:\n  - name: c\n');
    assert.equal(p!.code, 'MESHD_ERR_XDS_SNAPSHOT_FILE_SHAPE');
    assert.equal(p!.path, 'resources[0]');
    assert.equal(p!.position.line, 2);
  });

  test('an unknown "@type" in resources: is refused with the codec code', () => {
    const [p] = problemsOf('resources:\n  - "@type": type.googleapis.com/envoy.config.nope.v3.Nope\n    name: x\n');
    assert.equal(p!.code, 'MESHD_ERR_XDS_UNKNOWN_TYPE_URL');
    assert.equal(p!.path, 'resources[0]["@type"]');
  });

  test('a resource of another type in a typed list is refused', () => {
    const [p] = problemsOf(`clusters:\n  - "@type": ${TYPE_URL.listener}\n    name: x\n`);
    assert.equal(p!.code, 'MESHD_ERR_XDS_SNAPSHOT_FILE_SHAPE');
    assert.match(p!.message, /expected type\.googleapis\.com\/envoy\.config\.cluster\.v3\.Cluster/);
  });

  test('a resource without a name, and two with the same name, are refused', () => {
    const problems = problemsOf('clusters:\n  - type: STATIC\n  - name: a\n  - name: a\nendpoints:\n  - endpoints: []\n');
    assert.deepEqual(
      problems.map((p) => [p.path, p.position.line]),
      [
        ['clusters[0]', 2],
        ['clusters[2]', 4],
        ['endpoints[0]', 6],
      ],
    );
    assert.match(problems[1]!.message, /the first is clusters\[1\]/);
    assert.match(problems[2]!.message, /cluster_name/);
  });

  test('every problem of the file is reported, not only the first', () => {
    const problems = problemsOf('clusters:\n  - name: a\n    bogus: 1\n  - name: b\n    also_bogus: 2\nextra: 1\n');
    assert.deepEqual(problems.map((p) => p.path), ['clusters[0].bogus', 'clusters[1].also_bogus', 'extra']);
  });

  test('malformed YAML is a syntax problem at the line of the mistake', () => {
    const [p] = problemsOf('clusters:\n  - name: a\n   type: STATIC\n');
    assert.equal(p!.code, 'MESHD_ERR_XDS_SNAPSHOT_FILE_SYNTAX');
    assert.equal(p!.position.line, 3);
  });

  test('a list where a map belongs is a shape problem', () => {
    const [p] = problemsOf('- clusters: []\n');
    assert.equal(p!.code, 'MESHD_ERR_XDS_SNAPSHOT_FILE_SHAPE');
    assert.match(p!.message, /must be a map/);
  });

  test('references to missing resources make the file inconsistent, each one reported', () => {
    const text = grpcSnapshotYaml(OPTS).replace('route_config_name: route-greeter.local', 'route_config_name: route-missing');
    assert.throws(
      () => buildSnapshotFromText('snap.yaml', text),
      (err: unknown) => {
        assert.ok(err instanceof XdsSnapshotFileError);
        assert.equal(err.code, 'MESHD_ERR_XDS_SNAPSHOT_FILE_INCONSISTENT');
        assert.ok(err.problems.some((p) => p.message.includes('route-missing')));
        assert.ok(err.problems.some((p) => p.message.includes('route-greeter.local')));
        assert.ok(err.problems.every((p) => p.position.file === 'snap.yaml'));
        return true;
      },
    );
  });
});

test('codec paths map onto YAML steps: Any markers add no step, quoted map keys are unquoted', () => {
  assert.deepEqual(codecPathSteps('$.filter_chains[0].filters[1].typed_config<HttpConnectionManager>.bogus'), ['filter_chains', 0, 'filters', 1, 'typed_config', 'bogus']);
  assert.deepEqual(codecPathSteps('$.policies["deny.all"].permissions[0]'), ['policies', 'deny.all', 'permissions', 0]);
  assert.deepEqual(codecPathSteps('$["@type"]'), ['@type']);
  assert.deepEqual(codecPathSteps('$'), []);
});

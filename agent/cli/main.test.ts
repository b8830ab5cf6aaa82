import { test } from 'node:test';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import { main } from './main.js';
import { captureIo } from './cli-io.js';
import { COMMANDS } from './commands.js';
import type { CommandGroup, CommandModule, CommandNode } from './command-spec.js';
import { ExitError, UsageError } from './errors.js';
import { leafCommands } from './render-help.js';
import { MeshdError } from '../../policy/index.js';

async function run(argv: string[], root?: CommandGroup) {
  const io = captureIo();
  const status = await main(argv, io, root);
  return { status, out: io.out, err: io.err };
}

/** Every command and group of the table with its path, the root first. */
function everyNode(node: CommandNode, path: string[] = []): Array<[string[], CommandNode]> {
  const here: Array<[string[], CommandNode]> = [[path, node]];
  return node.kind === 'group' ? [...here, ...node.commands.flatMap((c) => everyNode(c, [...path, c.name]))] : here;
}

/** A table with one command whose run() does what the test needs. */
function tableWith(run: CommandModule['run']): CommandGroup {
  return {
    kind: 'group',
    name: 'meshd',
    summary: 'test table',
    options: [],
    examples: [],
    commands: [
      { kind: 'command', name: 'boom', summary: 'test command', arguments: [], options: [], examples: [], load: async () => ({ run }) },
    ],
  };
}

for (const [path, node] of everyNode(COMMANDS)) {
  const name = ['meshd', ...path].join(' ');
  test(`'${name} --help' prints help that mentions every option and exits 0`, async () => {
    const { status, out, err } = await run([...path, '--help']);
    assert.equal(status, 0);
    assert.equal(err, '');
    assert.match(out, new RegExp(`^${name}: `));
    for (const o of node.options) {
      assert.ok(out.includes(`--${o.name}`), `help of '${name}' lacks --${o.name}`);
      if (o.short) assert.ok(out.includes(`-${o.short}, --${o.name}`), `help of '${name}' lacks -${o.short}`);
    }
    assert.ok(out.includes('-h, --help'));
    if (node.kind === 'command') for (const a of node.arguments) assert.ok(out.includes(a.name));
    if (node.kind === 'group') for (const [p] of leafCommands(node, [])) assert.ok(out.includes(p.join(' ')));
  });
}

test('-h works like --help, wherever it appears among the options', async () => {
  const long = await run(['policy', 'validate', '--help']);
  const short = await run(['policy', 'validate', '-o', 'json', '-h']);
  assert.equal(short.status, 0);
  assert.equal(short.out, long.out);
});

test("'meshd help policy trace' prints the same text as 'meshd policy trace --help'", async () => {
  const viaHelp = await run(['help', 'policy', 'trace']);
  const viaFlag = await run(['policy', 'trace', '--help']);
  assert.equal(viaHelp.status, 0);
  assert.equal(viaHelp.out, viaFlag.out);
  assert.equal((await run(['help'])).out, (await run(['--help'])).out);
});

test('the top-level help lists every command with its full name', async () => {
  const { out } = await run(['--help']);
  for (const name of ['policy validate', 'policy trace', 'version', 'help']) assert.ok(out.includes(`  ${name} `), name);
});

test('an unknown command is a usage error with exit status 2 and a pointer to --help', async () => {
  const { status, out, err } = await run(['frobnicate']);
  assert.equal(status, 2);
  assert.equal(out, '');
  assert.match(err, /^MESHD_ERR_USAGE {2}unknown command 'meshd frobnicate'\n/);
  assert.match(err, /run 'meshd --help'\n$/);
});

test('an unknown subcommand points at its group help and suggests the near miss', async () => {
  const { status, err } = await run(['policy', 'valdate', 'x.yaml']);
  assert.equal(status, 2);
  assert.match(err, /unknown command 'meshd policy valdate'/);
  assert.match(err, /hint: did you mean 'meshd policy validate'\?/);
  assert.match(err, /run 'meshd policy --help'\n$/);
});

test('no command at all, or a group without its subcommand, is a usage error', async () => {
  assert.equal((await run([])).status, 2);
  const { status, err } = await run(['policy']);
  assert.equal(status, 2);
  assert.match(err, /missing command after 'meshd policy'/);
});

test('an unknown option is a usage error that names the command to get help on', async () => {
  const { status, err } = await run(['policy', 'validate', '--outptu', 'json', 'x.yaml']);
  assert.equal(status, 2);
  assert.match(err, /unknown option '--outptu'/);
  assert.match(err, /hint: did you mean --output\?/);
  assert.match(err, /run 'meshd policy validate --help'\n$/);
  assert.equal((await run(['--frob'])).status, 2);
  assert.equal((await run(['policy', 'validate', '-x', 'a.yaml'])).status, 2);
});

test('a missing argument, a missing value and a value outside the choices are usage errors', async () => {
  const noPath = await run(['policy', 'validate']);
  assert.equal(noPath.status, 2);
  assert.match(noPath.err, /missing argument PATH\.\.\./);
  const noValue = await run(['policy', 'validate', 'a.yaml', '-o']);
  assert.equal(noValue.status, 2);
  assert.match(noValue.err, /option --output text\|json needs a value/);
  const badChoice = await run(['policy', 'validate', '-o', 'yaml', 'a.yaml']);
  assert.equal(badChoice.status, 2);
  assert.match(badChoice.err, /--output must be text or json, not 'yaml'/);
});

test('trace without its required options is a usage error naming the first one missing', async () => {
  const { status, err } = await run(['policy', 'trace', '--from', 'default/xwing']);
  assert.equal(status, 2);
  assert.match(err, /missing option --policies PATH/);
});

test('a command returning failure exits 1 without any extra output', async () => {
  const { status, out, err } = await run(['boom'], tableWith(async (_args, { io }) => (io.stdout('denied\n'), 1)));
  assert.equal(status, 1);
  assert.equal(out, 'denied\n');
  assert.equal(err, '');
});

test('a coded MeshdError exits 1 and prints CODE, message and hint, without a stack', async () => {
  const table = tableWith(async () => {
    throw new MeshdError('MESHD_ERR_ENDPOINTS_INVALID', 'endpoints.yaml:3:5: ips[0] is not an IP', 'write 10.0.0.1, not 10.0.0');
  });
  const { status, err } = await run(['boom'], table);
  assert.equal(status, 1);
  assert.equal(err, 'MESHD_ERR_ENDPOINTS_INVALID  endpoints.yaml:3:5: ips[0] is not an IP\nhint: write 10.0.0.1, not 10.0.0\n');
});

test('an error is recognised by its code, not its class: a plain object with a MESHD_ERR_ code counts', async () => {
  const table = tableWith(async () => {
    throw Object.assign(new Error('no endpoint default/xwnig'), { code: 'MESHD_ERR_TRACE_BAD_REF' });
  });
  const { status, err } = await run(['boom'], table);
  assert.equal(status, 2, 'a bad --from/--to ref is a usage error');
  assert.match(err, /^MESHD_ERR_TRACE_BAD_REF {2}no endpoint default\/xwnig\nrun 'meshd boom --help'\n$/);
});

test('an error carrying policy problems prints each one as file:line:col  CODE  message', async () => {
  const problems = [
    { code: 'MESHD_ERR_POLICY_UNKNOWN_FIELD', message: "unknown field 'fromEndpoint'", path: 'spec.ingress[0].fromEndpoint', position: { file: 'a.yaml', line: 9, col: 7 }, hint: "did you mean 'fromEndpoints'?" },
  ];
  const table = tableWith(async () => {
    throw Object.assign(new MeshdError('MESHD_ERR_POLICY_UNKNOWN_FIELD', 'a.yaml:9:7: unknown field'), { problems });
  });
  const { status, err } = await run(['boom'], table);
  assert.equal(status, 1);
  assert.equal(
    err,
    "a.yaml:9:7  MESHD_ERR_POLICY_UNKNOWN_FIELD  spec.ingress[0].fromEndpoint: unknown field 'fromEndpoint'\n  hint: did you mean 'fromEndpoints'?\n",
  );
});

test('an internal error exits 1 and prints the stack and a request to report it', async () => {
  const table = tableWith(async () => {
    throw new TypeError("Cannot read properties of undefined (reading 'rules')");
  });
  const { status, err } = await run(['boom'], table);
  assert.equal(status, 1);
  assert.match(err, /internal error/);
  assert.match(err, /TypeError: Cannot read properties of undefined/);
  assert.match(err, /\n {4}at /, 'the stack is printed');
  assert.match(err, /Please report it/);
});

test('a thrown non-Error value is an internal error too', async () => {
  const { status, err } = await run(['boom'], tableWith(async () => Promise.reject('just a string')));
  assert.equal(status, 1);
  assert.match(err, /internal error[\s\S]*just a string/);
});

test('ExitError ends with its exit status and prints nothing more', async () => {
  const table = tableWith(async (_args, { io }) => {
    io.stderr('already explained\n');
    throw new ExitError(1);
  });
  const { status, err } = await run(['boom'], table);
  assert.equal(status, 1);
  assert.equal(err, 'already explained\n');
});

test('a UsageError thrown by a command exits 2 and points at that command', async () => {
  const { status, err } = await run(['boom'], tableWith(async () => Promise.reject(new UsageError('--port must be N/tcp'))));
  assert.equal(status, 2);
  assert.equal(err, "MESHD_ERR_USAGE  --port must be N/tcp\nrun 'meshd boom --help'\n");
});

test("'meshd version' and 'meshd --version' print the package version", async () => {
  const a = await run(['version']);
  const b = await run(['--version']);
  assert.equal(a.status, 0);
  assert.match(a.out, /^meshd \d+\.\d+\.\d+ \(node v\d+/);
  assert.equal(b.out, a.out);
});

const TRACE = ['policy', 'trace', '--policies', 'docs/examples/policies', '--endpoints', 'docs/examples/endpoints.yaml'];

test("'policy trace' exits 0 for an allowed flow and prints both sides with the deciding policy", async () => {
  const { status, out } = await run([...TRACE, '--from', 'empire/tiefighter', '--to', 'empire/deathstar', '--port', '80/tcp', '--http-method', 'POST', '--http-path', '/v1/request-landing']);
  assert.equal(status, 0);
  assert.match(out, /^allowed {2}empire\/tiefighter -> empire\/deathstar 80\/tcp {2}HTTP POST \/v1\/request-landing\n/);
  assert.match(out, /ingress of empire\/deathstar\n {2}verdict {2}allowed\n {2}stage {4}l7\n {2}policy {3}empire\/deathstar-landing \(docs\/examples\/policies\/deathstar-http\.yaml:19\)/);
});

test("'policy trace' exits 1 for a denied flow, and -o json gives {verdict, egress, ingress}", async () => {
  const { status, out } = await run([...TRACE, '--from', 'alliance/xwing', '--to', 'empire/deathstar', '--port', '80/tcp', '-o', 'json']);
  assert.equal(status, 1);
  const result = JSON.parse(out);
  assert.equal(result.verdict, 'denied');
  assert.deepEqual(
    { verdict: result.ingress.verdict, stage: result.ingress.stage, policy: result.ingress.policy, source: result.ingress.source },
    { verdict: 'denied', stage: 'l3l4', policy: 'empire/deathstar-landing', source: 'docs/examples/policies/deathstar-http.yaml:29' },
  );
  assert.equal(result.egress.verdict, 'allowed');
  assert.equal(typeof result.egress.reason, 'string');
});

test("'policy trace' with a REF that names nothing is a usage error (exit 2) listing the known endpoints", async () => {
  const { status, out, err } = await run([...TRACE, '--from', 'empire/nobody', '--to', 'empire/deathstar', '--port', '80/tcp']);
  assert.equal(status, 2);
  assert.equal(out, '');
  assert.match(err, /^MESHD_ERR_TRACE_BAD_REF {2}no endpoint "empire\/nobody"/);
  assert.match(err, /hint: known endpoints: .*empire\/deathstar/);
});

test("'policy trace' refuses to trace over policies that do not load, printing each problem", async () => {
  const dir = mkdtempSync(join(tmpdir(), 'meshd-trace-'));
  const file = join(dir, 'bad.yaml');
  writeFileSync(file, 'apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: bad}\nspec:\n  endpointSelector: {}\n  ingress:\n  - fromEndpoint: [{}]\n');
  try {
    const { status, out, err } = await run(['policy', 'trace', '--policies', file, '--from', '10.0.0.1', '--to', '10.0.0.2', '--port', '80/tcp']);
    assert.equal(status, 1);
    assert.equal(out, '');
    assert.match(err, new RegExp(`${file}:7:5 {2}MESHD_ERR_POLICY_UNKNOWN_FIELD`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

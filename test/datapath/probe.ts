// Runs inside a pod (node dist/test/datapath/probe.js <op> ...): one network operation, its
// outcome printed as one JSON line, so tests see errno codes and timings from the pod itself.
//   tcp <host> <port> [payload]                 connect (timed), send, read the reply
//   tcp-hold <host> <port> [payload]            the same, but sends only when stdin closes
//   udp <host> <port> [payload] [connected]     one datagram and its reply
//   tcp-server <port>                           echo server on [::] (both families)
//   udp-server <port> <4|6>                     datagram echo server
// Servers print {"listening":true}, then one line per connection or datagram they get.
import net from 'node:net';
import dgram from 'node:dgram';

const [op = '', host = '', portText = '0', payload = 'ping', mode = ''] = process.argv.slice(2);
const port = Number(portText);
const TIMEOUT_MS = Number(process.env['PROBE_TIMEOUT_MS'] ?? 2000);

function print(o: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(o)}\n`);
}

function done(o: Record<string, unknown>): never {
  print(o);
  process.exit(0);
}

const elapsedMs = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;

if (op === 'tcp' || op === 'tcp-hold') {
  const t0 = process.hrtime.bigint();
  const socket = net.connect({ host, port });
  let connectMs = 0;
  let response = '';
  // Read at connect: after 'end' the socket no longer reports its addresses.
  let peer: object = {};
  let local: object = {};
  const timer = setTimeout(() => done({ ok: false, code: 'TIMEOUT', elapsedMs: elapsedMs(t0) }), op === 'tcp' ? TIMEOUT_MS : 4 * TIMEOUT_MS);
  socket.on('connect', () => {
    connectMs = elapsedMs(t0);
    peer = { address: socket.remoteAddress, port: socket.remotePort };
    local = { address: socket.localAddress, port: socket.localPort };
    if (op === 'tcp') socket.end(payload);
    else {
      print({ connected: true, peer, local });
      process.stdin.resume();
      process.stdin.on('end', () => socket.end(payload));
    }
  });
  socket.on('data', (d) => (response += d.toString()));
  socket.on('end', () => {
    clearTimeout(timer);
    done({ ok: true, connectMs, peer, local, response });
  });
  socket.on('error', (err: NodeJS.ErrnoException) => {
    clearTimeout(timer);
    done({ ok: false, code: err.code, elapsedMs: elapsedMs(t0) });
  });
} else if (op === 'udp') {
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');
  const t0 = process.hrtime.bigint();
  const timer = setTimeout(() => done({ ok: false, code: 'TIMEOUT', elapsedMs: elapsedMs(t0) }), TIMEOUT_MS);
  const fail = (err: NodeJS.ErrnoException | null) => {
    if (!err) return;
    clearTimeout(timer);
    done({ ok: false, code: err.code, elapsedMs: elapsedMs(t0) });
  };
  socket.on('error', fail);
  socket.on('message', (msg, rinfo) => {
    clearTimeout(timer);
    const peer = mode === 'connected' ? socket.remoteAddress() : undefined;
    done({ ok: true, from: { address: rinfo.address, port: rinfo.port }, peer, local: socket.address(), response: msg.toString() });
  });
  if (mode === 'connected') socket.connect(port, host, () => socket.send(payload, fail));
  else socket.send(payload, port, host, fail);
} else if (op === 'tcp-server') {
  const server = net.createServer((s) => {
    print({ accepted: { address: s.remoteAddress, port: s.remotePort } });
    let data = '';
    s.on('data', (d) => (data += d.toString()));
    s.on('end', () => s.end(JSON.stringify({ server: 'pod', from: { address: s.remoteAddress, port: s.remotePort }, data })));
    s.on('error', () => {});
  });
  server.listen({ host: '::', port: Number(host) }, () => print({ listening: true }));
} else if (op === 'udp-server') {
  const socket = dgram.createSocket(portText === '6' ? { type: 'udp6', ipv6Only: true } : { type: 'udp4' });
  socket.on('message', (msg, rinfo) => {
    print({ datagram: { address: rinfo.address, port: rinfo.port }, data: msg.toString() });
    socket.send(JSON.stringify({ server: 'pod', data: msg.toString() }), rinfo.port, rinfo.address);
  });
  socket.bind(Number(host), () => print({ listening: true }));
} else {
  done({ ok: false, code: 'USAGE', op });
}

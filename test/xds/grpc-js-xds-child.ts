// A child process around @grpc/grpc-js-xds, driven by the real-client tests over JSON lines. It is a
// separate process because grpc-js-xds reads its bootstrap (GRPC_XDS_BOOTSTRAP) and its feature
// switches (GRPC_XDS_EXPERIMENTAL_RBAC) once per process.
//   node grpc-js-xds-child.js client          stdin {id, target, method, name, deadlineMs} → stdout {id, ok, reply | code, details}
//   node grpc-js-xds-child.js server PORT NAME an xDS-enabled greeter (gRFC A36) on 127.0.0.1:PORT;
//                                              prints {event: "bound"} once its Listener arrived
import * as grpc from '@grpc/grpc-js';
import { XdsServer, register } from '@grpc/grpc-js-xds';
import { createInterface } from 'node:readline';
import { GREETER_SERVICE, decodeStringMessage, encodeStringMessage } from './greeter-messages.js';

const identity = (b: Buffer): Buffer => b;

interface CallRequest {
  id: number;
  target: string;
  method: string;
  name: string;
  deadlineMs?: number;
}

function emit(line: object): void {
  process.stdout.write(JSON.stringify(line) + '\n');
}

function runClient(): void {
  register();
  const clients = new Map<string, grpc.Client>();
  const clientFor = (target: string): grpc.Client => {
    let c = clients.get(target);
    if (!c) clients.set(target, (c = new grpc.Client(target, grpc.credentials.createInsecure())));
    return c;
  };
  createInterface({ input: process.stdin })
    .on('line', (line) => {
      const req = JSON.parse(line) as CallRequest;
      const deadline = new Date(Date.now() + (req.deadlineMs ?? 5000));
      clientFor(req.target).makeUnaryRequest(`/${GREETER_SERVICE}/${req.method}`, identity, identity, encodeStringMessage(req.name), { deadline }, (err, reply) => {
        if (err) emit({ id: req.id, ok: false, code: grpc.status[err.code] ?? err.code, details: err.details });
        else emit({ id: req.id, ok: true, reply: decodeStringMessage(reply!) });
      });
    })
    .on('close', () => {
      for (const c of clients.values()) c.close();
      process.exit(0);
    });
  emit({ event: 'ready' });
}

function runServer(port: string, backendName: string): void {
  // register() also installs the http filters (router, RBAC); without it every server Listener NACKs.
  register();
  const server = new XdsServer();
  const handler =
    (method: string): grpc.handleUnaryCall<Buffer, Buffer> =>
    (call, callback) =>
      callback(null, encodeStringMessage(`${method} ${decodeStringMessage(call.request)} from ${backendName}`));
  const methods = ['SayHello', 'Secret'];
  server.addService(
    Object.fromEntries(
      methods.map((m) => [m, { path: `/${GREETER_SERVICE}/${m}`, requestStream: false, responseStream: false, requestSerialize: identity, requestDeserialize: identity, responseSerialize: identity, responseDeserialize: identity }]),
    ) as grpc.ServiceDefinition,
    Object.fromEntries(methods.map((m) => [m, handler(m)])),
  );
  const address = `127.0.0.1:${port}`;
  server.addServingStateListener(address, (status) => emit({ event: 'serving-status', code: grpc.status[status.code] ?? status.code, details: status.details }));
  // The callback fires only once the server Listener (and its routes) came from the control plane.
  server.bindAsync(address, grpc.ServerCredentials.createInsecure(), (err, boundPort) => {
    if (err) emit({ event: 'bind-error', message: err.message });
    else emit({ event: 'bound', port: boundPort });
  });
  const stop = () => server.forceShutdown();
  process.on('SIGTERM', () => {
    stop();
    process.exit(0);
  });
  createInterface({ input: process.stdin }).on('close', () => {
    stop();
    process.exit(0);
  });
}

const [mode, port, name] = process.argv.slice(2);
if (mode === 'client') runClient();
else if (mode === 'server' && port && name) runServer(port, name);
else {
  process.stderr.write('usage: grpc-js-xds-child.js client | server PORT NAME\n');
  process.exit(2);
}

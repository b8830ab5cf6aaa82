// Child process of connectFromCgroup(): moves itself into the cgroup given as argv[2] *before*
// opening a socket (a socket's cgroup is fixed when it is created), connects to 127.0.0.1:argv[3]
// and prints {"result": "connected" | "<error code>", "pid": n}.
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';

const [cgroupPath, port] = process.argv.slice(2);
if (!cgroupPath || !port) throw new Error('usage: child-connect.js <cgroup dir> <port>');
writeFileSync(`${cgroupPath}/cgroup.procs`, String(process.pid));
const socket = connect({ host: '127.0.0.1', port: Number(port) });
const report = (result: string): void => {
  process.stdout.write(JSON.stringify({ result, pid: process.pid }));
  socket.destroy();
};
socket.setTimeout(5000, () => report('ETIMEDOUT'));
socket.on('connect', () => report('connected'));
socket.on('error', (error: NodeJS.ErrnoException) => report(error.code ?? error.message));

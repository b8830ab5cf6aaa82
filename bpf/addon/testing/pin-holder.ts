// Child process for the restart tests: loads the test object with its maps pinned under argv[3],
// attaches deny_port (refusing port argv[6]) to the cgroup argv[4], pins the link at argv[5],
// prints the ids as one JSON line and waits to be killed. What it pinned must outlive it.
import { BpfObject } from '../index.js';

const [objectPath, pinRoot, cgroupPath, linkPin, port] = process.argv.slice(2);
if (!objectPath || !pinRoot || !cgroupPath || !linkPin || !port) {
  throw new Error('usage: pin-holder.js <object> <pin root> <cgroup> <link pin> <denied port>');
}
const deniedPort = Buffer.alloc(2);
deniedPort.writeUInt16LE(Number(port));
const object = BpfObject.open(objectPath, { pinRoot, rodata: { denied_port: deniedPort } });
object.load();
const program = object.program('deny_port');
const link = program.attachCgroup(cgroupPath);
link.pin(linkPin);
process.stdout.write(
  JSON.stringify({ mapId: object.map('denied_count').id, linkId: link.id, progId: program.id }) + '\n',
);
setInterval(() => {}, 60_000);

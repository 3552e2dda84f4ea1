// A fake systemd notify socket for tests: a python3 receiver, since Node cannot bind an AF_UNIX
// datagram socket. It records each datagram with the sender's pid (SCM_CREDENTIALS).

import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { waitFor } from './ferry.js';

/** Prints one JSON line per datagram: the sender's pid (SCM_CREDENTIALS) and the message. */
const RECEIVER = `
import json, socket, struct, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(sys.argv[1])
print(json.dumps({"bound": True}), flush=True)
while True:
    data, anc, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = next((struct.unpack("iII", d)[0] for (lvl, typ, d) in anc if typ == socket.SCM_CREDENTIALS), None)
    print(json.dumps({"pid": pid, "message": data.decode()}), flush=True)
`;

export interface Datagram {
  pid: number;
  message: string;
}

/** A fake systemd notify socket in `root`; its process goes into `children` (the test kills it). Resolves once it is bound. */
export async function fakeNotifySocket(root: string, children: ChildProcess[]): Promise<{ path: string; received: Datagram[] }> {
  const script = path.join(root, 'notify-receiver.py');
  fs.writeFileSync(script, RECEIVER);
  const socketPath = path.join(root, 'notify.sock');
  const child = spawn('python3', [script, socketPath], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const received: Datagram[] = [];
  let bound = false;
  let buffered = '';
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => {
    buffered += chunk;
    const lines = buffered.split('\n');
    buffered = lines.pop() ?? '';
    for (const line of lines) {
      const parsed = JSON.parse(line) as Datagram & { bound?: boolean };
      if (parsed.bound) bound = true;
      else received.push(parsed);
    }
  });
  await waitFor(() => bound, 'the fake notify socket to be bound', 15_000);
  return { path: socketPath, received };
}

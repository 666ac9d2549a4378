/**
 * Free loopback ports for servers started by the twin and the real-software suites. All `n` are held
 * open until all are known, so they are distinct (asking one at a time can return a port twice).
 * No port is handed out twice by one process: twins brought up side by side (the Argo CD loop) ask
 * at the same time, and a port one was given is free again until its program binds it.
 */
import { createServer, type Server } from 'node:net';

const given = new Set<number>();

export async function freePorts(n: number): Promise<number[]> {
  const ports: number[] = [];
  for (let attempt = 0; ports.length < n; attempt++) {
    if (attempt === 20) throw new Error(`freePorts: no ${n} ports that this process has not handed out already`);
    for (const p of await fresh(n - ports.length)) {
      if (given.has(p)) continue;
      given.add(p);
      ports.push(p);
    }
  }
  return ports;
}

async function fresh(n: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: n },
      () =>
        new Promise<Server>((res, rej) => {
          const srv = createServer();
          srv.on('error', rej);
          srv.listen(0, '127.0.0.1', () => res(srv));
        }),
    ),
  );
  const ports = servers.map((srv) => {
    const addr = srv.address();
    return typeof addr === 'object' && addr ? addr.port : 0;
  });
  await Promise.all(servers.map((srv) => new Promise((res) => srv.close(res))));
  return ports;
}

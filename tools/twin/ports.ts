/**
 * Free loopback ports for servers started by the twin and the real-software suites. All `n` are held
 * open until all are known, so they are distinct (asking one at a time can return a port twice).
 */
import { createServer, type Server } from 'node:net';

export async function freePorts(n: number): Promise<number[]> {
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

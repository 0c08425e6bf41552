import { createServer } from 'node:net';

/**
 * Ports this process has handed out: each is free when returned but bound only later, by a
 * child process, so the system could give the same one again in between (two children would
 * then race for it). A port handed out once is never handed out again by this process.
 */
const handedOut = new Set<number>();

/** A TCP port free on the loopback interface right now, and not one this process gave before. */
export async function freePort(): Promise<number> {
  for (;;) {
    const port = await systemPort();
    if (port === 0 || !handedOut.has(port)) {
      handedOut.add(port);
      return port;
    }
  }
}

function systemPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

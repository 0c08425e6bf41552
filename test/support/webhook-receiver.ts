import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Delivery {
  eventId: string;
  signature: string | undefined;
  body: string;
  event: { id: string; type: string; subject: string; time: string };
  /** When it arrived (ms since the epoch). */
  receivedAt: number;
}

/** A merchant's webhook receiver: records every POST and answers with `status()`. */
export class Receiver {
  readonly received: Delivery[] = [];
  status: (delivery: Delivery) => number = () => 200;
  private server: Server | undefined;
  url = '';

  /** Listening on `host` (all interfaces: `0.0.0.0`), reached at 127.0.0.1. */
  async start(host = '127.0.0.1'): Promise<void> {
    this.server = createServer((request, response) => {
      const chunks: Buffer[] = [];
      request.on('data', (chunk: Buffer) => chunks.push(chunk));
      request.on('end', () => {
        const body = Buffer.concat(chunks).toString();
        const delivery: Delivery = {
          eventId: String(request.headers['paysaga-event-id']),
          signature: request.headers['paysaga-signature'] as string | undefined,
          body,
          event: JSON.parse(body),
          receivedAt: Date.now(),
        };
        this.received.push(delivery);
        response.writeHead(this.status(delivery)).end();
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, host, resolve));
    this.url = `http://127.0.0.1:${this.port}/hooks`;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  of(subjects: string[]): Delivery[] {
    return this.received.filter((d) => subjects.includes(d.event.subject));
  }

  async stop(): Promise<void> {
    await new Promise((resolve) => this.server?.close(resolve));
  }
}

/**
 * Live status for a customer's app: customer tokens, the SSE stream of one payment and the
 * WebSocket of a customer's payments, over real HTTP against the stack (and against API
 * processes started here, to show a stream resumes on another one).
 */
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { WebSocket as WsClient } from 'ws';
import { describe, expect, inject, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { CustomerTokens } from '../../src/api/customer-tokens.js';
import { EVENTS_CHANNEL } from '../../src/events/hub.js';
import { startChildServer } from '../../tools/stack/child-server.js';
import { freePort } from '../../src/free-port.js';
import { eventually } from '../support/brokers.js';
import { complete3ds } from '../support/gateway.js';
import { api, topUp, uid } from '../support/http.js';
import { startApi } from '../support/in-process-api.js';

interface SseMessage {
  id: string;
  event: string;
  data: any;
}

/** Reads a text/event-stream until it ends (or `stopAfter` says so); returns every message. */
async function readSse(
  url: string,
  headers: Record<string, string>,
  onMessage: (message: SseMessage, all: SseMessage[]) => void | Promise<void> = () => undefined,
  stopAfter: (all: SseMessage[]) => boolean = () => false,
): Promise<{ status: number; messages: SseMessage[]; ended: boolean }> {
  const response = await fetch(url, { headers, signal: AbortSignal.timeout(30_000) });
  const messages: SseMessage[] = [];
  if (response.status !== 200 || !response.body) return { status: response.status, messages, ended: true };
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return { status: 200, messages, ended: true };
    buffer += value;
    let cut: number;
    while ((cut = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut + 2);
      const fields = Object.fromEntries(
        block
          .split('\n')
          .filter((line) => !line.startsWith(':') && line.includes(': '))
          .map((line) => [line.slice(0, line.indexOf(': ')), line.slice(line.indexOf(': ') + 2)]),
      );
      if (!fields.data) continue;
      const message: SseMessage = {
        id: fields.id ?? '',
        event: fields.event ?? 'message',
        data: JSON.parse(fields.data),
      };
      messages.push(message);
      await onMessage(message, messages);
      if (stopAfter(messages)) {
        await reader.cancel();
        return { status: 200, messages, ended: false };
      }
    }
  }
}

async function tokenFor(customerId: string): Promise<string> {
  const res = await api('POST', '/v1/customer-tokens', { customerId });
  expect(res.status).toBe(201);
  return res.body.token;
}

/** A card payment that waits for 3-D Secure (test card ...3333). */
async function threeDsPayment(customerId: string) {
  const res = await api('POST', '/v1/payments', {
    orderId: uid('ord'),
    customerId,
    amount: 2500,
    currency: 'USD',
    method: { type: 'card', token: 'tok_test_3333' },
  });
  expect(res.body.status).toBe('requires_action');
  return res.body as { id: string; nextAction: { url: string } };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('customer tokens', () => {
  it("read the customer's own payments and wallet, and nothing else", async () => {
    const customerId = uid('cus');
    await topUp(customerId, 1000);
    const token = await tokenFor(customerId);
    const own = await threeDsPayment(customerId);
    const other = await threeDsPayment(uid('cus'));

    expect((await api('GET', `/v1/payments/${own.id}`, undefined, { key: token })).status).toBe(200);
    expect(
      (await api('GET', `/v1/wallets/${customerId}`, undefined, { key: token })).body.balances[0],
    ).toMatchObject({
      available: 1000,
    });
    // Another customer's data, and every merchant route: 403.
    for (const [method, path, body] of [
      ['GET', `/v1/payments/${other.id}`],
      ['GET', `/v1/wallets/${uid('cus')}`],
      ['GET', '/v1/payments'],
      [
        'POST',
        '/v1/payments',
        { orderId: uid('ord'), customerId, amount: 1, currency: 'USD', method: { type: 'wallet' } },
      ],
      ['GET', '/v1/webhook-endpoints'],
      ['POST', '/v1/customer-tokens', { customerId: 'someone' }],
    ] as const) {
      const res = await api(method, path, body, { key: token });
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.body.code).toBe('forbidden_for_customer_token');
    }
    // A forged or tampered token is no token.
    const tampered = token.slice(0, -2) + (token.endsWith('A') ? 'BB' : 'AA');
    expect((await api('GET', `/v1/payments/${own.id}`, undefined, { key: tampered })).status).toBe(401);
  });
});

describe('GET /v1/payments/{id}/stream (Server-Sent Events)', () => {
  it('streams a 3-D Secure payment: the current view, then succeeded when the webhook lands, then ends', async () => {
    const customerId = uid('cus');
    const token = await tokenFor(customerId);
    const payment = await threeDsPayment(customerId);
    const result = await readSse(
      `${inject('apiUrl')}/v1/payments/${payment.id}/stream`,
      bearer(token),
      async (message, all) => {
        // Connected before the 3-D Secure result exists: complete it now.
        if (all.length === 1) await complete3ds(payment.nextAction.url, 'succeed');
      },
    );
    expect(result.ended).toBe(true);
    expect(result.messages.map((m) => m.event)).toEqual(['payment', 'payment.succeeded']);
    expect(result.messages[0]!.data).toMatchObject({ id: payment.id, status: 'requires_action' });
    // Every message carries the payment as of that moment.
    expect(result.messages[1]!.data).toMatchObject({ id: payment.id, status: 'succeeded' });
    expect(Number(result.messages[1]!.id)).toBeGreaterThan(Number(result.messages[0]!.id));
  });

  it("refuses another customer's stream (403) and takes the token in the URL, where browsers need it", async () => {
    const payment = await threeDsPayment(uid('cus'));
    const stranger = await tokenFor(uid('cus'));
    const refused = await readSse(`${inject('apiUrl')}/v1/payments/${payment.id}/stream`, bearer(stranger));
    expect(refused.status).toBe(403);
    const owner = await tokenFor((await api('GET', `/v1/payments/${payment.id}`)).body.customerId);
    const viaQuery = await readSse(
      `${inject('apiUrl')}/v1/payments/${payment.id}/stream?access_token=${owner}`,
      {},
      () => undefined,
      (all) => all.length === 1,
    );
    expect(viaQuery.messages[0]).toMatchObject({ event: 'payment', data: { status: 'requires_action' } });
  });

  it('resumes with Last-Event-ID on another API process after the first one stops', async () => {
    const started: Awaited<ReturnType<typeof startApi>>[] = [];
    const startOne = async () => {
      const one = await startApi();
      started.push(one);
      return one;
    };
    try {
      const customerId = uid('cus');
      const token = await tokenFor(customerId);
      const payment = await threeDsPayment(customerId);
      const first = await startOne();
      let stopped: Promise<void> | undefined;
      const before = await readSse(
        `${first.url}/v1/payments/${payment.id}/stream`,
        bearer(token),
        (_m, all) => {
          // The API process goes away mid-stream.
          if (all.length === 1) stopped = first.close();
        },
      );
      await stopped;
      expect(before.messages.map((m) => m.event)).toEqual(['payment']);
      await complete3ds(payment.nextAction.url, 'succeed');
      await eventually(
        async () => (await api('GET', `/v1/payments/${payment.id}`)).body.status === 'succeeded',
        30_000,
        'the payment to succeed',
      );

      const second = await startOne();
      const after = await readSse(`${second.url}/v1/payments/${payment.id}/stream`, {
        ...bearer(token),
        'last-event-id': before.messages[0]!.id,
      });
      // Only what came after the last event the client saw: no snapshot again, nothing twice.
      expect(after.messages.map((m) => m.event)).toEqual(['payment.succeeded']);
      expect(after.ended).toBe(true);
    } finally {
      for (const entry of started) await entry.close().catch(() => undefined);
    }
  });
});

describe('WebSocket /v1/stream', () => {
  it("pushes a customer's payment events as they happen, and refuses another customer's", async () => {
    const customerId = uid('cus');
    const token = await tokenFor(customerId);
    const wsUrl = `${inject('apiUrl').replace('http', 'ws')}/v1/stream?access_token=${token}`;
    const socket = new WebSocket(wsUrl);
    const received: any[] = [];
    socket.addEventListener('message', (event) => received.push(JSON.parse(String(event.data))));
    await new Promise((resolve, reject) => {
      socket.addEventListener('open', resolve);
      socket.addEventListener('error', reject);
    });
    try {
      const payment = await threeDsPayment(customerId);
      const others = await threeDsPayment(uid('cus'));
      await complete3ds(payment.nextAction.url, 'succeed');
      await eventually(
        () => received.some((e) => e.type === 'payment.succeeded'),
        30_000,
        'payment.succeeded on the socket',
      );
      expect(received.every((e) => e.subject === `payments/${payment.id}`)).toBe(true);
      expect(received.map((e) => e.type)).toEqual([
        'payment.created',
        'payment.requires_action',
        'payment.succeeded',
      ]);
      expect(received.some((e) => e.subject === `payments/${others.id}`)).toBe(false);
    } finally {
      socket.close();
    }

    const refused = new WebSocket(`${wsUrl}&customerId=${uid('cus')}`);
    const outcome = await new Promise<string>((resolve) => {
      refused.addEventListener('open', () => resolve('open'));
      refused.addEventListener('error', () => resolve('refused'));
    });
    expect(outcome).toBe('refused');
  });
});

/** Opens a WebSocket and resolves once it is open; `received` fills as messages come. */
async function openSocket(url: string) {
  const socket = new WebSocket(url);
  const received: any[] = [];
  socket.addEventListener('message', (event) => received.push(JSON.parse(String(event.data))));
  const closed = new Promise<{ code: number }>((resolve) => socket.addEventListener('close', resolve));
  await new Promise((resolve, reject) => {
    socket.addEventListener('open', resolve);
    socket.addEventListener('error', reject);
  });
  return { socket, received, closed };
}

describe('a stream whose PostgreSQL read fails', () => {
  it('closes that one stream; the API process keeps serving every other', async () => {
    // An API process of this test's own, named to PostgreSQL so its backends can be found.
    const appName = `paysaga-api-${randomUUID().slice(0, 8)}`;
    const port = await freePort();
    const child = await startChildServer({
      name: 'api',
      command: process.execPath,
      args: ['--import', 'tsx', 'src/api/main.ts'],
      env: { ...process.env, ...inject('stackEnv'), PORT: String(port), PGAPPNAME: appName },
      ready: /api listening/,
      notable: /(?!)/,
      log: () => undefined,
    });
    let exitCode: number | undefined;
    void child.exited.then((code) => (exitCode = code));
    const locker = new pg.Client({ connectionString: inject('databaseUrl') });
    await locker.connect();
    const notifier = new pg.Client({ connectionString: inject('databaseUrl') });
    await notifier.connect();
    try {
      const failing = uid('cus');
      const healthy = uid('cus');
      const wsUrl = (customerId: string, token: string) =>
        `ws://127.0.0.1:${port}/v1/stream?access_token=${token}&customerId=${customerId}`;
      const doomed = await openSocket(wsUrl(failing, await tokenFor(failing)));
      const survivor = await openSocket(wsUrl(healthy, await tokenFor(healthy)));
      // The process's LISTEN connection opens with its first stream.
      await eventually(
        async () =>
          (
            await locker.query(
              `SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND state = 'idle' AND query = $2`,
              [appName, `LISTEN ${EVENTS_CHANNEL}`],
            )
          ).rowCount === 1,
        15_000,
        'the API process to listen for events',
      );

      // Something else on the channel is no event: it is ignored.
      await locker.query(`SELECT pg_notify($1, 'not json')`, [EVENTS_CHANNEL]);
      // The doomed socket's read of its event waits behind a lock, and its backend is then
      // terminated (as a failover or an operator would): the query fails.
      await locker.query('BEGIN');
      await locker.query('LOCK TABLE events IN ACCESS EXCLUSIVE MODE');
      const notice = { seq: 1, tenantId: 'default', subject: 'payments/pay_x', type: 'payment.created' };
      await notifier.query('SELECT pg_notify($1, $2)', [
        EVENTS_CHANNEL,
        JSON.stringify({ ...notice, customerId: failing }),
      ]);
      let waiting: number[] = [];
      await eventually(
        async () => {
          // Not on the locker: inside its transaction pg_stat_activity stays as first read.
          const rows = await notifier.query<{ pid: number }>(
            `SELECT pid FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`,
            [appName],
          );
          waiting = rows.rows.map((row) => row.pid);
          return waiting.length > 0;
        },
        15_000,
        "the stream's read to wait on the lock",
      );
      for (const pid of waiting) await locker.query('SELECT pg_terminate_backend($1)', [pid]);
      await locker.query('ROLLBACK');

      const close = await doomed.closed;
      expect(close.code).toBe(1013);
      // The process still serves: the other socket stays open and gets its customer's events.
      const payment = await api('POST', '/v1/payments', {
        orderId: uid('ord'),
        customerId: healthy,
        amount: 100,
        currency: 'USD',
        method: { type: 'wallet' },
      });
      await eventually(
        () => survivor.received.some((event) => event.subject === `payments/${payment.body.id}`),
        30_000,
        "the other customer's event on its socket",
      );
      expect(survivor.socket.readyState).toBe(WebSocket.OPEN);
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(200);
      expect(exitCode).toBeUndefined();
      survivor.socket.close();
    } finally {
      await locker.end();
      await notifier.end();
      await child.stop();
    }
  });
});

/** A `ws` client (it can stop reading, and shows why an upgrade was refused). */
async function wsClient(
  url: string,
): Promise<{ socket: WsClient; received: number; closed: Promise<number> }> {
  const socket = new WsClient(url);
  const state = { socket, received: 0, closed: new Promise<number>((r) => socket.once('close', r)) };
  socket.on('message', () => state.received++);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) =>
      reject(new Error(`upgrade refused: ${response.statusCode}`)),
    );
    socket.once('error', reject);
  });
  return state;
}

describe('stream limits', () => {
  it('caps open streams per customer token and per tenant (429 too_many_streams), and frees a slot on close', async () => {
    const server = await startApi({ STREAM_MAX_PER_TENANT: '3', STREAM_MAX_PER_CUSTOMER_TOKEN: '2' });
    const wsUrl = (token: string) => `${server.url.replace('http', 'ws')}/v1/stream?access_token=${token}`;
    try {
      const alice = uid('cus');
      const aliceToken = await tokenFor(alice);
      const payment = await threeDsPayment(alice);
      const first = await wsClient(wsUrl(aliceToken));
      const sse = await fetch(`${server.url}/v1/payments/${payment.id}/stream`, {
        headers: bearer(aliceToken),
      });
      expect(sse.status).toBe(200);
      // The token's two streams are open: a third, WebSocket or SSE, is refused before it starts.
      await expect(wsClient(wsUrl(aliceToken))).rejects.toThrow('upgrade refused: 429');
      const refused = await fetch(`${server.url}/v1/payments/${payment.id}/stream`, {
        headers: bearer(aliceToken),
      });
      expect(refused.status).toBe(429);
      expect(await refused.json()).toMatchObject({ code: 'too_many_streams' });
      // Another customer's token takes the tenant's third stream; a fourth is refused.
      const bob = await wsClient(wsUrl(await tokenFor(uid('cus'))));
      await expect(wsClient(wsUrl(await tokenFor(uid('cus'))))).rejects.toThrow('upgrade refused: 429');
      // Closing one gives its slot back.
      first.socket.close();
      await first.closed;
      const again = await wsClient(wsUrl(aliceToken));
      again.socket.close();
      bob.socket.close();
      await sse.body?.cancel();
    } finally {
      await server.close();
    }
  });

  it('closes the WebSocket and the SSE stream when their customer token expires', async () => {
    const server = await startApi();
    try {
      const customerId = uid('cus');
      const payment = await threeDsPayment(customerId);
      // A two-second token, signed as the API signs them (the route gives at least a minute).
      const { customerTokenSecret } = loadConfig(inject('stackEnv'));
      const { token } = await new CustomerTokens(customerTokenSecret).issue('default', customerId, 2);
      const socket = await wsClient(`${server.url.replace('http', 'ws')}/v1/stream?access_token=${token}`);
      const sse = await readSse(`${server.url}/v1/payments/${payment.id}/stream`, bearer(token));
      // The SSE stream ended by itself (the payment is still waiting for 3-D Secure).
      expect(sse.ended).toBe(true);
      expect(sse.messages.map((m) => m.event)).toEqual(['payment']);
      expect(await socket.closed).toBe(1008);
    } finally {
      await server.close();
    }
  });

  it('closes a WebSocket whose client sends a large message, or stops reading', async () => {
    const server = await startApi({ STREAM_MAX_BUFFERED_BYTES: String(64 * 1024) });
    const notifier = new pg.Client({ connectionString: inject('databaseUrl') });
    await notifier.connect();
    try {
      const customerId = uid('cus');
      const wsUrl = `${server.url.replace('http', 'ws')}/v1/stream?access_token=${await tokenFor(customerId)}`;
      const talker = await wsClient(wsUrl);
      talker.socket.send('x'.repeat(4096));
      expect(await talker.closed).toBe(1009); // Message Too Big

      const payment = await threeDsPayment(customerId);
      const [event] = (
        await notifier.query<{ seq: string }>(`SELECT seq FROM events WHERE subject = $1 LIMIT 1`, [
          `payments/${payment.id}`,
        ])
      ).rows;
      const reader = await wsClient(wsUrl);
      reader.socket.pause();
      // Thousands of notices of that event (a distinct payload each, or PostgreSQL folds them),
      // far more than the socket's buffers and the 64 KiB bound hold.
      const notices = 6000;
      await notifier.query(
        `SELECT pg_notify($1, json_build_object('seq', $2::bigint, 'tenantId', 'default', 'subject', $3::text,
           'type', 'payment.created', 'customerId', $4::text, 'n', n)::text) FROM generate_series(1, $5::int) n`,
        [EVENTS_CHANNEL, event!.seq, `payments/${payment.id}`, customerId, notices],
      );
      await eventually(
        () => server.app.websocketServer.clients.size === 0,
        60_000,
        'the API to cut off the client that does not read',
      );
      // Reading again, the client gets what was sent before the cut, then the end.
      reader.socket.resume();
      expect(await reader.closed).toBe(1006);
      expect(reader.received).toBeLessThan(notices);
    } finally {
      await notifier.end();
      await server.close();
    }
  });
});

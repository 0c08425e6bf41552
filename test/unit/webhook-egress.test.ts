/**
 * Where outgoing webhooks may go: the address policy in every spelling of an internal address,
 * the check at registration, the check at connect time on the address the socket is given (a
 * custom resolver plays DNS, rebinding included), and the generic reasons a failed POST records.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { AddressPolicy, parseAllowedNetworks } from '../../src/webhooks/address-policy.js';
import { WebhookEgress, type Resolve } from '../../src/webhooks/egress.js';

/** Internal addresses as ipaddr.js reads them (the URL parser's spellings are below). */
const INTERNAL = [
  '127.0.0.1',
  '127.255.255.254',
  '0.0.0.0',
  '10.0.0.1',
  '172.16.5.4',
  '192.168.1.1',
  '169.254.169.254', // AWS, GCP and Azure metadata
  '100.100.100.200', // Alibaba metadata, carrier-grade NAT
  '192.0.0.192', // Oracle metadata, reserved
  '224.0.0.1',
  '255.255.255.255',
  '198.18.0.1',
  '240.0.0.1',
  '0x7f000001',
  '::1',
  '::',
  'fe80::1',
  'fe80::1%eth0',
  'fd00:ec2::254', // AWS metadata over IPv6, unique local
  'ff02::1',
  '::ffff:127.0.0.1',
  '::ffff:7f00:1',
  '::ffff:169.254.169.254',
  '64:ff9b::a9fe:a9fe', // NAT64 of 169.254.169.254
  '2002:a9fe:a9fe::1', // 6to4
  '2001:0:4136:e378::1', // Teredo
  '2001:db8::1',
  '4000::1', // outside global unicast
  'not an address',
];

/** The same internal addresses as a URL can spell them; the URL parser reads them all as IPs. */
const INTERNAL_URLS = [
  'http://localhost/',
  'http://127.0.0.1/',
  'http://127.1/',
  'http://2130706433/',
  'http://0x7f000001/',
  'http://0x7f.1/',
  'http://0177.0.0.1/',
  'http://127.000.000.001/',
  'http://0/',
  'http://0.0.0.0/',
  'http://10.0.0.1/',
  'http://167772161/',
  'http://169.254.169.254/latest/meta-data/',
  'http://2852039166/',
  'http://[::1]/',
  'http://[::]/',
  'http://[::ffff:127.0.0.1]/',
  'http://[::ffff:a9fe:a9fe]/',
  'http://[fd00:ec2::254]/',
];

const silent = () => undefined;
const resolveTo =
  (...addresses: string[]): Resolve =>
  async () =>
    addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));

describe('address policy', () => {
  it('refuses loopback, private, link-local, metadata, multicast, unspecified and reserved addresses', () => {
    const policy = new AddressPolicy();
    for (const address of INTERNAL) expect(policy.allows(address), address).toBe(false);
  });

  it('allows public IPv4 and IPv6 addresses', () => {
    const policy = new AddressPolicy();
    for (const address of ['8.8.8.8', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8'])
      expect(policy.allows(address), address).toBe(true);
  });

  it('lifts the refusal only inside the allowed networks, whatever the spelling', () => {
    const policy = new AddressPolicy(parseAllowedNetworks('127.0.0.1/32, 10.1.0.0/16'));
    for (const address of ['127.0.0.1', '::ffff:127.0.0.1', '0x7f000001', '10.1.2.3'])
      expect(policy.allows(address), address).toBe(true);
    for (const address of ['127.0.0.2', '::1', '10.2.0.1', '169.254.169.254'])
      expect(policy.allows(address), address).toBe(false);
  });

  it('refuses a WEBHOOK_ALLOWED_NETWORKS entry that is not a CIDR network', () => {
    expect(() => parseAllowedNetworks('loopback')).toThrow(/"loopback" is not a network in CIDR form/);
    expect(() => parseAllowedNetworks('10.0.0.0/33')).toThrow(/10\.0\.0\.0\/33/);
    expect(() => loadConfig({ WEBHOOK_ALLOWED_NETWORKS: '127.0.0.1' })).toThrow(/WEBHOOK_ALLOWED_NETWORKS/);
    expect(loadConfig({}).webhookAllowedNetworks).toEqual([]);
  });
});

describe('registration check', () => {
  it('refuses every spelling of an internal address in a URL', async () => {
    const egress = new WebhookEgress({ allowedNetworks: [], log: silent, resolve: resolveTo('127.0.0.1') });
    for (const url of INTERNAL_URLS) expect(await egress.reaches(url), url).toBe(false);
  });

  it('refuses, without throwing, a URL the pattern takes but no parser does', async () => {
    const egress = new WebhookEgress({
      allowedNetworks: [],
      log: silent,
      resolve: resolveTo('93.184.216.34'),
    });
    expect(await egress.reaches('http://1hDNwV4W.5:65526?h_ADYcKqo')).toBe(false);
    expect(await egress.reaches('http://256.1.1.1/x')).toBe(false);
  });

  it('resolves names: refused when any address is internal or the name does not resolve', async () => {
    const egress = (resolve: Resolve) => new WebhookEgress({ allowedNetworks: [], log: silent, resolve });
    expect(await egress(resolveTo('93.184.216.34')).reaches('https://hooks.example/x')).toBe(true);
    expect(await egress(resolveTo('10.0.0.5')).reaches('https://hooks.example/x')).toBe(false);
    expect(await egress(resolveTo('93.184.216.34', 'fd00::1')).reaches('https://hooks.example/x')).toBe(
      false,
    );
    expect(await egress(resolveTo()).reaches('https://hooks.example/x')).toBe(false);
    const notFound = () =>
      Promise.reject(Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' }));
    expect(await egress(notFound).reaches('https://hooks.example/x')).toBe(false);
    expect(await egress(resolveTo('10.0.0.5')).reaches('https://8.8.8.8/x')).toBe(true);
  });
});

describe('POST through the egress', () => {
  const received: IncomingMessage[] = [];
  let server: Server;
  let port = 0;
  /** A port on 127.0.0.1 nothing listens on. */
  let closedPort = 0;
  let hang: Server;
  let hangPort = 0;

  const listen = async (handler: Parameters<typeof createServer>[1]) => {
    const s = createServer(handler);
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    return { server: s, port: (s.address() as AddressInfo).port };
  };

  beforeAll(async () => {
    ({ server, port } = await listen((request, response) => {
      received.push(request);
      request.resume();
      response.writeHead(204).end();
    }));
    ({ server: hang, port: hangPort } = await listen(() => undefined));
    const closed = await listen(() => undefined);
    closedPort = closed.port;
    await new Promise((resolve) => closed.server.close(resolve));
  });
  afterAll(async () => {
    hang.closeAllConnections();
    await new Promise((resolve) => hang.close(resolve));
    await new Promise((resolve) => server.close(resolve));
  });

  const request = { headers: { 'content-type': 'application/json' }, body: '{"n":1}', timeoutMs: 2_000 };
  const loopbackAllowed = parseAllowedNetworks('127.0.0.1/32');

  it('connects to the address the checked lookup answered', async () => {
    const egress = new WebhookEgress({
      allowedNetworks: loopbackAllowed,
      log: silent,
      resolve: resolveTo('127.0.0.1'),
    });
    const before = received.length;
    expect(await egress.post(`http://receiver.test:${port}/hooks`, request, {})).toEqual({ statusCode: 204 });
    expect(received.length).toBe(before + 1);
    expect(received.at(-1)!.headers.host).toBe(`receiver.test:${port}`);
  });

  it('refuses at connect time a name that now resolves inside (DNS rebinding), and sends nothing', async () => {
    let answers = 0;
    // Public when registered, loopback when the delivery connects.
    const rebinding: Resolve = async (hostname) =>
      resolveTo(answers++ === 0 ? '93.184.216.34' : '127.0.0.1')(hostname);
    const logged: Record<string, unknown>[] = [];
    const egress = new WebhookEgress({
      allowedNetworks: [],
      log: (fields) => logged.push(fields),
      resolve: rebinding,
    });
    const url = `http://rebind.test:${port}/hooks`;
    expect(await egress.reaches(url)).toBe(true);
    const before = received.length;
    expect(await egress.post(url, request, { deliveryId: 'wd_1' })).toEqual({ error: 'address not allowed' });
    expect(received.length).toBe(before);
    expect(logged).toEqual([expect.objectContaining({ deliveryId: 'wd_1', err: expect.any(Error) })]);
  });

  it('refuses an internal address in the URL itself, in any spelling, and sends nothing', async () => {
    const egress = new WebhookEgress({ allowedNetworks: [], log: silent });
    const before = received.length;
    for (const host of ['127.0.0.1', '2130706433', '0x7f000001', '127.1', '[::ffff:127.0.0.1]'])
      expect(await egress.post(`http://${host}:${port}/hooks`, request, {}), host).toEqual({
        error: 'address not allowed',
      });
    expect(received.length).toBe(before);
  });

  it('records generic reasons and logs the raw error', async () => {
    const logged: { fields: Record<string, unknown>; message: string }[] = [];
    const egress = new WebhookEgress({
      allowedNetworks: loopbackAllowed,
      log: (fields, message) => logged.push({ fields, message }),
      resolve: (hostname) =>
        hostname === 'nowhere.test'
          ? Promise.reject(
              Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.test'), { code: 'ENOTFOUND' }),
            )
          : resolveTo('127.0.0.1')(hostname),
    });
    expect(await egress.post(`http://127.0.0.1:${closedPort}/`, request, {})).toEqual({
      error: 'connection refused',
    });
    expect(String((logged[0]!.fields.err as Error).message)).toContain(`127.0.0.1:${closedPort}`);
    expect(await egress.post(`https://127.0.0.1:${port}/`, request, {})).toEqual({
      error: 'TLS handshake failed',
    });
    expect(await egress.post(`http://nowhere.test:${port}/`, request, {})).toEqual({
      error: 'name did not resolve',
    });
    expect(await egress.post(`http://127.0.0.1:${hangPort}/`, { ...request, timeoutMs: 200 }, {})).toEqual({
      error: 'timed out',
    });
    expect(logged.map((line) => line.message)).toEqual([
      'webhook POST failed: connection refused',
      'webhook POST failed: TLS handshake failed',
      'webhook POST failed: name did not resolve',
      'webhook POST failed: timed out',
    ]);
  });
});

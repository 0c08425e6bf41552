/**
 * CPU per message of the shipped integration profiles' mappings, alone (no broker, no database):
 * what a profile adds to the consumer per inbound message and to the relay per outbound one.
 * `npm run bench:mappings` (MAPPING_ROUNDS, default 20,000 of each).
 */
import { cpuUsage } from 'node:process';
import type { CloudEvent } from '../src/domain/events.js';
import { interpret, render, takes } from '../src/profiles/profile.js';
import { loadProfiles } from '../src/profiles/registry.js';

const rounds = Number(process.env.MAPPING_ROUNDS ?? 20_000);
const registry = loadProfiles([
  { ref: 'transit', tenantId: 'bench' },
  { ref: 'food-ordering', tenantId: 'bench' },
]);
const transit = registry.profile('bench', 'transit')!;
const food = registry.profile('bench', 'food-ordering')!;
const purchase = transit.inbound.find((inbound) => inbound.binding.name === 'ticket-purchase')!;
const succeededOut = food.outbound.find((outbound) => outbound.binding.name === 'payment-succeeded')!;

const event: CloudEvent = {
  specversion: '1.0',
  id: 'payment:bench:order-1#payment.succeeded#2',
  source: 'paysaga',
  type: 'payment.succeeded',
  subject: 'payments/pay_0123456789abcdef01234567',
  time: '2026-12-05T10:00:00.000Z',
  datacontenttype: 'application/json',
  tenantid: 'bench',
  data: {
    id: 'pay_0123456789abcdef01234567',
    reference: 'PAY-20261205-0a1b2c3d',
    amount: 4999,
    currency: 'EUR',
    metadata: { orderId: '12345', 'paysaga.profile': 'food-ordering' },
    attempts: [{ number: 1, gatewayReference: 'auth_1' }],
  },
};

async function measure(name: string, once: (i: number) => Promise<unknown>): Promise<void> {
  for (let i = 0; i < 500; i++) await once(i); // warm up
  const start = cpuUsage();
  const wall = performance.now();
  for (let i = 0; i < rounds; i++) await once(i);
  const cpu = cpuUsage(start);
  const micros = (cpu.user + cpu.system) / rounds;
  console.log(
    `${name.padEnd(44)} ${micros.toFixed(1).padStart(7)} µs CPU / message   (${rounds} in ${((performance.now() - wall) / 1000).toFixed(2)} s)`,
  );
}

await measure('transit ticket-purchase (message → command)', (i) =>
  interpret(purchase, { ticketId: i, userId: 42, amount: 12.5, paymentMethod: 'WALLET', requestId: `r${i}` }),
);
await measure('food-ordering payment-succeeded (event → message)', async () => {
  if (await takes(succeededOut, event)) await render(succeededOut, event, { paymentNumber: 7 });
});

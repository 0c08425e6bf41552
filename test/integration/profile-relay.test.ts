/**
 * A profile's outbound sink against the stack's PostgreSQL, its broker replaced by a recorder (the
 * layer under test is the sink: what it maps, parks and retries). An event a binding cannot map
 * is parked with the reason, the profile's other bindings and the events behind it go on, and the
 * parked one goes out on its own once it maps.
 */
import { randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { countProfileFailures } from '../../src/db/profiles.js';
import { insertEvent } from '../../src/db/payments.js';
import type { CloudEvent } from '../../src/domain/events.js';
import { ProfileSink, type ProfilePublisher } from '../../src/events/profile-sink.js';
import { compileProfile, type OutboundMessage } from '../../src/profiles/profile.js';
import { testDatabase } from '../support/db.js';

const handle = testDatabase();
afterAll(() => handle.close());

const tenantId = `relay_${randomUUID().slice(0, 8)}`;
const profile = compileProfile(
  {
    profile: 'picky',
    version: 1,
    outbound: [
      {
        name: 'strict',
        events: ['payment.succeeded'],
        origin: 'tenant',
        target: { kafka: { topic: 'strict.results' } },
        // Fails for a payment without an order number, as a contract with numeric ids would.
        map: '{ "order": $number(data.orderId), "paymentId": $paymentNumber }',
      },
      {
        name: 'lenient',
        events: ['payment.succeeded'],
        origin: 'tenant',
        target: { amqp: { exchange: 'lenient.results', routingKey: 'paid' } },
        map: '{ "order": data.orderId }',
      },
    ],
  },
  tenantId,
  'test',
);

class Recorder {
  readonly sent: OutboundMessage[] = [];
  failing = false;
  async publish(messages: readonly OutboundMessage[]): Promise<void> {
    if (this.failing) throw new Error('broker down');
    this.sent.push(...messages);
  }
}

function succeeded(orderId: string): CloudEvent {
  return {
    specversion: '1.0',
    id: `evt_${randomUUID()}`,
    source: 'paysaga',
    type: 'payment.succeeded',
    subject: `payments/pay_${orderId}`,
    time: new Date().toISOString(),
    datacontenttype: 'application/json',
    tenantid: tenantId,
    data: { id: `pay_${randomUUID().replaceAll('-', '').slice(0, 24)}`, orderId },
  };
}

describe("a profile's outbound sink", () => {
  it('parks an event a binding cannot map and sends the rest, then sends the parked one once it maps', async () => {
    const recorder = new Recorder();
    const sink = new ProfileSink(profile, handle.db, recorder as unknown as ProfilePublisher);
    expect(sink.name).toBe(`profile:${tenantId}:picky`);
    const bad = succeeded('not-a-number');
    const good = succeeded('1001');
    for (const event of [bad, good]) await insertEvent(handle.db, event);

    await sink.publish([bad, good]);
    expect(recorder.sent.map((m) => `${m.binding} ${m.body}`)).toEqual([
      `lenient {"order":"not-a-number"}`,
      expect.stringMatching(/^strict \{"order":1001,"paymentId":\d+\}$/),
      `lenient {"order":"1001"}`,
    ]);
    const parked = await handle.pool.query(
      'SELECT event_id, binding, reason, attempts FROM profile_failures WHERE sink = $1',
      [sink.name],
    );
    expect(parked.rows).toEqual([
      { event_id: bad.id, binding: 'strict', reason: expect.stringMatching(/strict/), attempts: 1 },
    ]);
    expect((await countProfileFailures(handle.db)).get(sink.name)).toBe(1);

    // Not due yet: the sweep leaves it.
    await sink.sweep();
    expect(recorder.sent).toHaveLength(3);

    // Due, and still unmappable: one more attempt counted, still parked.
    await handle.pool.query(
      "UPDATE profile_failures SET next_attempt_at = now() - interval '1 second' WHERE sink = $1",
      [sink.name],
    );
    await sink.sweep();
    expect(
      (await handle.pool.query('SELECT attempts FROM profile_failures WHERE sink = $1', [sink.name])).rows,
    ).toEqual([{ attempts: 2 }]);

    // Due, and the broker down: still parked; then it maps and the broker answers: sent, cleared.
    await handle.pool.query(`UPDATE events SET data = jsonb_set(data, '{orderId}', '"2002"') WHERE id = $1`, [
      bad.id,
    ]);
    await handle.pool.query(
      "UPDATE profile_failures SET next_attempt_at = now() - interval '1 second' WHERE sink = $1",
      [sink.name],
    );
    recorder.failing = true;
    await sink.sweep();
    expect((await countProfileFailures(handle.db)).get(sink.name)).toBe(1);
    recorder.failing = false;
    await handle.pool.query(
      "UPDATE profile_failures SET next_attempt_at = now() - interval '1 second' WHERE sink = $1",
      [sink.name],
    );
    await sink.sweep();
    expect(recorder.sent.at(-1)).toMatchObject({
      binding: 'strict',
      body: expect.stringMatching(/^\{"order":2002,/),
    });
    expect((await countProfileFailures(handle.db)).get(sink.name)).toBeUndefined();
  });

  it("maps only its own tenant's events", async () => {
    const recorder = new Recorder();
    const sink = new ProfileSink(profile, handle.db, recorder as unknown as ProfilePublisher);
    await sink.publish([{ ...succeeded('1'), tenantid: 'another-tenant' }]);
    expect(recorder.sent).toEqual([]);
  });

  it('a broker that refuses fails the batch, for the relay to send again (nothing parked)', async () => {
    const recorder = new Recorder();
    recorder.failing = true;
    const sink = new ProfileSink(profile, handle.db, recorder as unknown as ProfilePublisher);
    await expect(sink.publish([succeeded('7')])).rejects.toThrow(/broker down/);
  });
});

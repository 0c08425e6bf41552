import type pg from 'pg';
import { describe, expect, it } from 'vitest';
import { keepPlans, MAX_PREPARED_PER_CONNECTION, statementName } from '../../src/db/plan-cache.js';

/** A connection that records what it is asked to send (the layer below is PostgreSQL's, tested in the integration suite). */
function recordingClient() {
  const sent: unknown[][] = [];
  const client = { query: (...args: unknown[]) => sent.push(args) } as unknown as pg.PoolClient;
  keepPlans(client);
  return { client, sent, names: () => sent.map(([config]) => (config as { name?: string }).name) };
}

describe('statements kept prepared per connection', () => {
  it('names a parameterized statement from its second use, by a hash of its text', () => {
    const { client, names } = recordingClient();
    const query = { text: 'SELECT $1::int', rowMode: 'array' };
    for (let i = 0; i < 3; i++) void client.query(query as never, [i]);
    const name = statementName('SELECT $1::int');
    expect(names()).toEqual([undefined, name, name]);
    expect(name).toMatch(/^paysaga_[A-Za-z0-9_-]{24}$/);
    // The caller's config is never changed (drizzle reuses it).
    expect(query).toEqual({ text: 'SELECT $1::int', rowMode: 'array' });
  });

  it('leaves alone statements without parameters, plain strings and named ones', () => {
    const { client, sent, names } = recordingClient();
    for (let i = 0; i < 3; i++) {
      void client.query({ text: 'LISTEN x' } as never);
      void client.query('SELECT $1::int' as never, [i] as never);
      void client.query({ text: 'SELECT $1::int', name: 'mine' } as never, [i] as never);
    }
    expect(names().filter((n) => n !== undefined && n !== 'mine')).toEqual([]);
    expect(sent).toHaveLength(9);
  });

  it(`prepares at most ${MAX_PREPARED_PER_CONNECTION} distinct statements on a connection`, () => {
    const { client, names } = recordingClient();
    const texts = Array.from({ length: MAX_PREPARED_PER_CONNECTION + 5 }, (_, i) => `SELECT $1::int + ${i}`);
    for (const text of texts)
      for (let use = 0; use < 2; use++) void client.query({ text } as never, [use] as never);
    const second = names().filter((_, i) => i % 2 === 1);
    expect(second.filter(Boolean)).toHaveLength(MAX_PREPARED_PER_CONNECTION);
    expect(second.slice(MAX_PREPARED_PER_CONNECTION)).toEqual([
      undefined,
      undefined,
      undefined,
      undefined,
      undefined,
    ]);
    // Those prepared stay prepared.
    void client.query({ text: texts[0]! } as never, [9] as never);
    expect(names().at(-1)).toBe(statementName(texts[0]!));
  });
});

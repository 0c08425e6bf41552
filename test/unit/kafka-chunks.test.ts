import { describe, expect, it } from 'vitest';
import { bySize, KAFKA_REQUEST_BYTES } from '../../src/events/kafka-sink.js';

const message = (bytes: number, id: number) => ({ id, value: 'x'.repeat(bytes) });

describe('Kafka produce requests', () => {
  it('a batch of 30 events of 60 KB each goes in requests under the limit, in order', () => {
    const messages = Array.from({ length: 30 }, (_, i) => message(60_000, i));
    const chunks = bySize(messages, KAFKA_REQUEST_BYTES);
    expect(chunks.length).toBeGreaterThan(1);
    for (const chunk of chunks)
      expect(chunk.reduce((sum, m) => sum + m.value.length, 0)).toBeLessThanOrEqual(KAFKA_REQUEST_BYTES);
    expect(chunks.flat().map((m) => m.id)).toEqual(messages.map((m) => m.id));
  });

  it('counts bytes, not characters (multibyte metadata)', () => {
    const wide = [{ value: '€'.repeat(100) }, { value: '€'.repeat(100) }];
    expect(bySize(wide, 400)).toHaveLength(2);
    expect(bySize(wide, 600)).toHaveLength(1);
  });

  it('a message alone over the limit still goes, alone (the broker then says why)', () => {
    expect(bySize([message(10, 1), message(2_000, 2), message(10, 3)], 1_000).map((c) => c.length)).toEqual([
      1, 1, 1,
    ]);
  });
});

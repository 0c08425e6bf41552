import { Writable } from 'node:stream';
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { loggerOptions } from '../../src/logger.js';

/** The JSON lines a logger with the processes' options writes. */
function capture() {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { log: pino(loggerOptions('info', 'test'), sink), lines };
}

describe('log redaction', () => {
  it('prints no email, however it is nested, and keeps the fields beside it', () => {
    const { log, lines } = capture();
    log.info({ email: 'jane@shop.example', customerId: 'cus_1' }, 'top level');
    log.info({ customer: { email: 'jane@shop.example', id: 'cus_1' } }, 'nested');
    log.info({ body: { customer: { email: 'jane@shop.example' } } }, 'nested twice');
    expect(lines).toHaveLength(3);
    for (const line of lines) {
      expect(line).not.toContain('jane@shop.example');
      expect(line).toContain('[redacted]');
    }
    expect(JSON.parse(lines[0]!)).toMatchObject({ customerId: 'cus_1', name: 'test' });
    expect(JSON.parse(lines[1]!).customer.id).toBe('cus_1');
  });
});

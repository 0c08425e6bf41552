import { createHash } from 'node:crypto';

/** JSON with sorted keys, so the same request always hashes the same. */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/**
 * `value` when it takes at most `max` bytes in UTF-8; otherwise its start and the SHA-256 of the
 * whole, at most `max` bytes in all: stable for the same value and distinct for different ones.
 * For ids a peer limits (a gateway's idempotency key, an AMQP message id: 255).
 */
export function fitLength(value: string, max: number): string {
  if (Buffer.byteLength(value) <= max) return value;
  const digest = sha256(value);
  let start = [...value].slice(0, max - digest.length - 1);
  while (Buffer.byteLength(start.join('')) > max - digest.length - 1) start = start.slice(0, -1);
  return `${start.join('')}~${digest}`;
}

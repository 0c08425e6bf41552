/** The places events go: the outbox (always) and the brokers `EVENT_SINKS` names. */
export const SINK_NAMES = ['outbox', 'kafka', 'amqp'] as const;
export type SinkName = (typeof SINK_NAMES)[number];

/** `outbox,kafka` → the names, validated; the outbox is implied even when not listed. */
export function parseEventSinks(value: string): SinkName[] {
  const names = value
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter(Boolean);
  for (const name of names) {
    if (!(SINK_NAMES as readonly string[]).includes(name))
      throw new Error(`EVENT_SINKS: unknown sink "${name}" (known: ${SINK_NAMES.join(', ')})`);
  }
  return [...new Set<SinkName>(['outbox', ...(names as SinkName[])])];
}

/** The sinks that are brokers (everything but the outbox itself). */
export function brokerSinks(names: readonly SinkName[]): Exclude<SinkName, 'outbox'>[] {
  return names.filter((name): name is Exclude<SinkName, 'outbox'> => name !== 'outbox');
}

/** Where the relay stands for one sink: how many events wait, and since when the oldest does. */
export interface SinkLag {
  sink: string;
  /** Events after the cursor (counted up to `LAG_COUNT_CAP` in db/outbox.ts). */
  backlog: number;
  /** Seconds since the oldest event the sink has not had was written; 0 when it has them all. */
  lagSeconds: number;
}

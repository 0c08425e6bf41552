import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from '@platformatic/kafka';
import type { KafkaSecurity } from '../config.js';

/** Where a Kafka client connects and how it authenticates: every producer, consumer and admin. */
export interface KafkaConnection {
  brokers: string[];
  security?: KafkaSecurity | undefined;
}

/**
 * The options of `@platformatic/kafka` clients for a connection: TLS (trusting `caFile` instead
 * of the public CAs when given) and SASL (PLAIN or SCRAM). Without either, plaintext as before.
 */
export function kafkaClientOptions(connection: KafkaConnection): {
  bootstrapBrokers: string[];
} & Pick<ConnectionOptions, 'tls' | 'sasl'> {
  const { tls, sasl } = connection.security ?? {};
  return {
    bootstrapBrokers: connection.brokers,
    ...(tls ? { tls: tls.caFile ? { ca: readFileSync(tls.caFile) } : {} } : {}),
    ...(sasl
      ? { sasl: { mechanism: sasl.mechanism, username: sasl.username, password: sasl.password } }
      : {}),
  };
}

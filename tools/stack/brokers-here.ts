/**
 * Which brokers this machine can run as event sinks (Kafka needs Java and Maven or its jars,
 * RabbitMQ needs `rabbitmq-server`). The test stack and the chaos run publish to every broker the
 * machine can run; under CI=true a missing one is an error, so CI never passes by skipping them.
 */
import type { SinkName } from '../../src/domain/sinks.js';
import { kafkaMissing } from './kafka.js';
import { findRabbitMqServer, RABBITMQ_HOW_TO_GET } from './rabbitmq.js';

export type Broker = Exclude<SinkName, 'outbox'>;

export const BROKER_LABELS: Record<Broker, string> = { kafka: 'Kafka', amqp: 'RabbitMQ' };

export interface BrokersHere {
  /** What EVENT_SINKS takes: the outbox and every broker this machine runs. */
  sinks: SinkName[];
  /** The brokers it cannot run, each with what it would need. */
  missing: { broker: Broker; needs: string }[];
}

export function brokersHere(env: NodeJS.ProcessEnv = process.env): BrokersHere {
  const here: BrokersHere = { sinks: ['outbox'], missing: [] };
  const kafka = kafkaMissing();
  if (kafka) here.missing.push({ broker: 'kafka', needs: kafka });
  else here.sinks.push('kafka');
  if (!findRabbitMqServer()) here.missing.push({ broker: 'amqp', needs: RABBITMQ_HOW_TO_GET });
  else here.sinks.push('amqp');
  if (here.missing.length > 0 && env.CI === 'true')
    throw new Error(
      `CI=true and this machine lacks a broker: ${here.missing.map((m) => `${BROKER_LABELS[m.broker]} needs ${m.needs}`).join('; ')}`,
    );
  return here;
}

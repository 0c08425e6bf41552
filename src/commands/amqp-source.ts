import amqp, { type ConsumeMessage } from 'amqplib';
import { settleCommand, untilStopped, type ProcessDeps } from './process.js';
import { COMMAND_SIGNATURE_HEADER } from './trust.js';

export const AMQP_COMMANDS_QUEUE = 'paysaga.commands';
export const AMQP_COMMANDS_DLQ = 'paysaga.commands.dlq';
/** Messages handled at once; each is acknowledged on its own once settled. */
const PREFETCH = 8;

/**
 * Consumes the durable queues given: `paysaga.commands` (signed commands) and the queues bound to
 * one tenant (bind them to your exchange, e.g. the food-ordering service's `OrderStockConfirmed`),
 * and acknowledges a message only once its workflow has been started or it has been
 * dead-lettered, with publisher confirms, to the durable queue `paysaga.commands.dlq` (reason in
 * the `x-paysaga-reason` header, the queue it came from in `x-paysaga-source`). The command type
 * comes from the body's `type`, else the message's `type` property, else the routing key it was
 * published with. A lost connection is opened again with backoff; unacknowledged messages are
 * redelivered.
 */
export function runAmqpCommands(
  url: string,
  sources: (string | AmqpQueue)[],
  deps: ProcessDeps,
): Promise<void> {
  const queues = sources.map((source) => (typeof source === 'string' ? { queue: source } : source));
  return untilStopped('RabbitMQ commands', () => session(url, queues, deps), deps);
}

/**
 * A queue to consume; with an exchange, the queue is bound to it with each routing key (an
 * integration profile's source: the system publishes to its own exchange, as it always has).
 */
export interface AmqpQueue {
  queue: string;
  exchange?: string | undefined;
  exchangeType?: 'topic' | 'direct' | 'fanout' | undefined;
  routingKeys?: string[] | undefined;
}

async function session(url: string, sources: AmqpQueue[], deps: ProcessDeps): Promise<void> {
  const queues = sources.map((source) => source.queue);
  const connection = await amqp.connect(url, { timeout: 5_000 });
  const closed = new Promise<void>((resolve, reject) => {
    connection.on('close', (error?: Error) => (error ? reject(error) : resolve()));
    connection.on('error', () => undefined);
  });
  try {
    const channel = await connection.createConfirmChannel();
    channel.on('error', () => undefined);
    for (const queue of [...queues, AMQP_COMMANDS_DLQ]) await channel.assertQueue(queue, { durable: true });
    for (const { queue, exchange, exchangeType, routingKeys } of sources) {
      if (!exchange) continue;
      await channel.assertExchange(exchange, exchangeType ?? 'topic', { durable: true });
      for (const key of routingKeys?.length ? routingKeys : [''])
        await channel.bindQueue(queue, exchange, key);
    }
    await channel.prefetch(PREFETCH);
    const onMessage = async (queue: string, message: ConsumeMessage) => {
      const routed = message.fields.routingKey !== queue ? message.fields.routingKey : undefined;
      const signature: unknown = message.properties.headers?.[COMMAND_SIGNATURE_HEADER];
      const settled = await settleCommand(
        {
          body: message.content,
          type: (message.properties.type as string | undefined) ?? routed,
          signature: typeof signature === 'string' ? signature : undefined,
          source: queue,
          broker: 'amqp',
        },
        async (reason) => {
          channel.sendToQueue(AMQP_COMMANDS_DLQ, message.content, {
            persistent: true,
            contentType: message.properties.contentType as string | undefined,
            type: message.properties.type as string | undefined,
            messageId: message.properties.messageId as string | undefined,
            headers: {
              ...(message.properties.headers ?? {}),
              'x-paysaga-reason': reason,
              'x-paysaga-source': queue,
              'x-paysaga-routing-key': message.fields.routingKey,
            },
          });
          await channel.waitForConfirms();
        },
        deps,
      );
      if (settled !== 'stopped') channel.ack(message);
    };
    for (const queue of queues)
      await channel.consume(queue, (message) => {
        if (message)
          void onMessage(queue, message).catch((error: unknown) => deps.log(`command: ${String(error)}`));
      });
    deps.log(`consuming RabbitMQ queues ${queues.join(', ')}`);
    const stop = new Promise<void>((resolve) =>
      deps.signal.addEventListener('abort', () => resolve(), { once: true }),
    );
    await Promise.race([closed, stop]);
  } finally {
    await connection.close().catch(() => undefined);
  }
}

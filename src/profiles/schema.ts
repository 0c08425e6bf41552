/**
 * An integration profile: how one system's own messages map onto Paysaga's commands, and
 * Paysaga's events onto the messages that system expects. A versioned YAML or JSON file
 * (profiles/*.yaml), validated with this schema when a process starts: a profile that does not
 * validate, or whose mappings do not compile, stops the process with the reason.
 */
import { z } from 'zod';
import { CURRENCIES } from '../domain/money.js';

/** The commands an inbound binding can give. */
export const PROFILE_COMMANDS = [
  'payment.create',
  'payment.retry',
  'refund.create',
  'checkout.create',
] as const;
export type ProfileCommand = (typeof PROFILE_COMMANDS)[number];

/** The only version of the file format this build reads. */
export const PROFILE_FORMAT_VERSION = 1;

const name = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,62}$/, 'lower-case letters, digits and "-", at most 63 characters');
/** A Kafka topic / RabbitMQ queue, exchange or routing key name. */
const brokerName = z
  .string()
  .min(1)
  .max(249)
  .regex(/^[A-Za-z0-9._-]+$/, 'letters, digits, ".", "_" and "-" only');
const routingPattern = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[A-Za-z0-9._#*-]+$/, 'letters, digits, ".", "_", "-", "*" and "#" only');
/** A JSONata expression (compiled after validation). */
const expression = z.string().min(1).max(20_000);

const kafkaSource = z.strictObject({
  topic: brokerName,
  /** The consumer group (the system's own, when its contract names one). */
  group: brokerName.optional(),
});
const amqpSource = z
  .strictObject({
    queue: brokerName,
    /** Declared (durable) and bound to the queue with each routing key. */
    exchange: brokerName.optional(),
    exchangeType: z.enum(['topic', 'direct', 'fanout']).default('topic'),
    routingKeys: z.array(routingPattern).max(20).default([]),
  })
  .refine((source) => !source.exchange || source.exchangeType === 'fanout' || source.routingKeys.length > 0, {
    message: 'a topic or direct exchange needs at least one routing key (the queue would receive nothing)',
    path: ['routingKeys'],
  });

const inbound = z.strictObject({
  name,
  source: z.union([z.strictObject({ kafka: kafkaSource }), z.strictObject({ amqp: amqpSource })]),
  command: z.enum(PROFILE_COMMANDS),
  /** Maps the message to the command's body (validated as the HTTP API validates it). */
  map: expression,
  /** The message's own idempotency key (e.g. `eventId`): a message seen before is a duplicate. */
  idempotencyKey: expression.optional(),
  /** A duplicate of a message whose payment has ended: publish the result again, or do nothing. */
  onDuplicate: z.enum(['ignore', 'republish']).default('ignore'),
  /**
   * `single`: a decline ends the payment (`payment.failed` at once), as a saga that has no
   * customer to ask for another card needs; `default`: the tenant's attempts policy.
   */
  attempts: z.enum(['default', 'single']).default('default'),
});

const kafkaTarget = z.strictObject({
  topic: brokerName,
  /** The record key: an expression on the event (default: the event's subject). */
  key: expression.optional(),
});
const amqpTarget = z.strictObject({
  exchange: brokerName,
  exchangeType: z.enum(['topic', 'direct', 'fanout']).default('topic'),
  routingKey: brokerName,
});

const outbound = z.strictObject({
  name,
  /** The Paysaga event types this binding maps (`payment.succeeded`, ...). */
  events: z
    .array(z.string().regex(/^[a-z_]+\.[a-z_.]+$/, 'an event type'))
    .min(1)
    .max(30),
  /**
   * `profile`: only events of payments this profile's inbound bindings started; `tenant`: every
   * event of the profile's tenant (wallet updates, payments made over HTTP).
   */
  origin: z.enum(['profile', 'tenant']).default('profile'),
  /** An expression on the event: the binding maps it only when this is true. */
  when: expression.optional(),
  target: z.union([
    z.strictObject({ kafka: kafkaTarget }),
    z.strictObject({ amqp: amqpTarget }),
    /** The customer's live WebSocket stream, for clients that ask for this profile's messages. */
    z.strictObject({ stream: z.strictObject({}) }),
  ]),
  /** Maps the event (a CloudEvent, `data` the payment) to the message. */
  map: expression,
});

export const profileFile = z
  .strictObject({
    profile: name,
    /** The file format's version. */
    version: z.literal(PROFILE_FORMAT_VERSION),
    description: z.string().max(2000).optional(),
    defaults: z
      .strictObject({
        /** For `$minor` / `$decimal` when a mapping names no currency. */
        currency: z.enum(CURRENCIES).optional(),
      })
      .default({}),
    inbound: z.array(inbound).max(50).default([]),
    outbound: z.array(outbound).max(50).default([]),
  })
  .superRefine((file, context) => {
    for (const list of ['inbound', 'outbound'] as const) {
      const seen = new Set<string>();
      file[list].forEach((binding, index) => {
        if (seen.has(binding.name))
          context.addIssue({
            code: 'custom',
            path: [list, index, 'name'],
            message: `binding name "${binding.name}" is used twice`,
          });
        seen.add(binding.name);
      });
    }
  });

export type ProfileFile = z.infer<typeof profileFile>;
export type InboundBinding = ProfileFile['inbound'][number];
export type OutboundBinding = ProfileFile['outbound'][number];

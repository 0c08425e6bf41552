import { existsSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../project-root.js';
import type { CloudEvent } from '../domain/events.js';
import {
  loadProfile,
  shippedProfilePath,
  takes,
  type Inbound,
  type Outbound,
  type Profile,
} from './profile.js';

/** Where a process's profiles listen: a Kafka topic (with its group) or a RabbitMQ queue. */
export type InboundSource =
  | { broker: 'kafka'; topic: string; group: string }
  | {
      broker: 'amqp';
      queue: string;
      exchange?: string | undefined;
      exchangeType: 'topic' | 'direct' | 'fanout';
      routingKeys: string[];
    };

/** The consumer group of a profile's Kafka binding that names none. */
export const profileGroup = (profile: string) => `paysaga-profile-${profile}`;

/**
 * The profiles one process loaded (PROFILES), checked together: a source is read by one binding
 * only, and no binding reads Paysaga's own queues or a source bound to a tenant otherwise.
 */
export class ProfileRegistry {
  readonly #bySource = new Map<string, Inbound>();

  constructor(readonly profiles: readonly Profile[]) {
    refuseLoops(profiles);
    for (const profile of profiles)
      for (const inbound of profile.inbound) {
        const key = sourceKey(sourceOf(inbound));
        const taken = this.#bySource.get(key);
        if (taken)
          throw new Error(
            `profiles ${taken.profile.name} and ${profile.name} both read ${key}: a source belongs to one binding`,
          );
        this.#bySource.set(key, inbound);
      }
  }

  get empty(): boolean {
    return this.profiles.length === 0;
  }

  /** The brokers the profiles read from or publish to. */
  brokers(): Set<'kafka' | 'amqp'> {
    const brokers = new Set<'kafka' | 'amqp'>();
    for (const profile of this.profiles) {
      for (const { binding } of profile.inbound) brokers.add('kafka' in binding.source ? 'kafka' : 'amqp');
      for (const { binding } of profile.outbound) {
        if ('kafka' in binding.target) brokers.add('kafka');
        if ('amqp' in binding.target) brokers.add('amqp');
      }
    }
    return brokers;
  }

  /** Every inbound source, as the consumer subscribes to them. */
  sources(): { source: InboundSource; inbound: Inbound }[] {
    return [...this.#bySource.values()].map((inbound) => ({ source: sourceOf(inbound), inbound }));
  }

  /** The binding that reads a Kafka topic or a RabbitMQ queue, if a profile does. */
  inboundFor(broker: 'kafka' | 'amqp', name: string): Inbound | undefined {
    return this.#bySource.get(`${broker}:${name}`);
  }

  /** A tenant's profile by name. */
  profile(tenantId: string, name: string): Profile | undefined {
    return this.profiles.find((profile) => profile.tenantId === tenantId && profile.name === name);
  }

  /** The outbound bindings of all profiles that take this event (its tenant's, by type, origin and `when`). */
  async outboundFor(
    event: CloudEvent,
    where: (outbound: Outbound) => boolean = () => true,
  ): Promise<Outbound[]> {
    const taken: Outbound[] = [];
    for (const profile of this.profiles)
      for (const outbound of profile.outbound)
        if (where(outbound) && (await takes(outbound, event))) taken.push(outbound);
    return taken;
  }
}

/** Loads `PROFILES`' entries: a shipped profile's name or a file's path, each for its tenant. */
export function loadProfiles(
  refs: readonly { ref: string; tenantId: string }[],
  root: string = PROJECT_ROOT,
): ProfileRegistry {
  const profiles = refs.map(({ ref, tenantId }) => {
    const file = /[/\\.]/.test(ref) ? path.resolve(root, ref) : shippedProfilePath(root, ref);
    if (!existsSync(file))
      throw new Error(`PROFILES: no profile "${ref}" (looked for ${path.relative(root, file) || file})`);
    return loadProfile(file, tenantId);
  });
  const names = new Set<string>();
  for (const profile of profiles) {
    const key = `${profile.tenantId}/${profile.name}`;
    if (names.has(key))
      throw new Error(`PROFILES: ${profile.name} is loaded twice for tenant ${profile.tenantId}`);
    names.add(key);
  }
  return new ProfileRegistry(profiles);
}

/**
 * What no profile may do: read from or publish to Paysaga's own topics, queues and exchanges
 * (`paysaga.*`: its commands, its events, every tenant's), or publish where a profile's inbound
 * binding reads (one tenant's events would become another's, or the same profile's, commands).
 */
function refuseLoops(profiles: readonly Profile[]): void {
  const own = (name: string) => name.startsWith('paysaga.');
  const inbound = profiles.flatMap((profile) => profile.inbound);
  for (const { profile, binding } of inbound) {
    const where = `profile ${profile.name} inbound ${binding.name}`;
    if ('kafka' in binding.source && own(binding.source.kafka.topic))
      throw new Error(`${where}: ${binding.source.kafka.topic} is Paysaga's own`);
    if (
      'amqp' in binding.source &&
      (own(binding.source.amqp.queue) || own(binding.source.amqp.exchange ?? ''))
    )
      throw new Error(
        `${where}: ${binding.source.amqp.exchange ?? binding.source.amqp.queue} is Paysaga's own`,
      );
  }
  for (const { profile, binding } of profiles.flatMap((each) => each.outbound)) {
    const where = `profile ${profile.name} outbound ${binding.name}`;
    const { target } = binding;
    if ('kafka' in target) {
      if (own(target.kafka.topic)) throw new Error(`${where}: ${target.kafka.topic} is Paysaga's own`);
      const reader = inbound.find(
        (each) => 'kafka' in each.binding.source && each.binding.source.kafka.topic === target.kafka.topic,
      );
      if (reader)
        throw new Error(
          `${where}: publishes to ${target.kafka.topic}, which profile ${reader.profile.name} reads`,
        );
    }
    if ('amqp' in target) {
      if (own(target.amqp.exchange)) throw new Error(`${where}: ${target.amqp.exchange} is Paysaga's own`);
      const reader = inbound.find(
        (each) =>
          'amqp' in each.binding.source &&
          each.binding.source.amqp.exchange === target.amqp.exchange &&
          (each.binding.source.amqp.exchangeType === 'fanout' ||
            each.binding.source.amqp.routingKeys.some((pattern) => routes(pattern, target.amqp.routingKey))),
      );
      if (reader)
        throw new Error(
          `${where}: publishes to ${target.amqp.exchange} ${target.amqp.routingKey}, which profile ${reader.profile.name} reads`,
        );
    }
  }
}

/** Whether a topic exchange binding `pattern` routes `key` (`*` one word, `#` any number). */
export function routes(pattern: string, key: string): boolean {
  const words = (text: string) => text.split('.');
  const match = (p: string[], k: string[]): boolean => {
    if (p.length === 0) return k.length === 0;
    const [head, ...rest] = p;
    if (head === '#') return match(rest, k) || (k.length > 0 && match(p, k.slice(1)));
    if (k.length === 0) return false;
    return (head === '*' || head === k[0]) && match(rest, k.slice(1));
  };
  return match(words(pattern), words(key));
}

function sourceOf(inbound: Inbound): InboundSource {
  const { source } = inbound.binding;
  if ('kafka' in source)
    return {
      broker: 'kafka',
      topic: source.kafka.topic,
      group: source.kafka.group ?? profileGroup(inbound.profile.name),
    };
  return { broker: 'amqp', ...source.amqp };
}

function sourceKey(source: InboundSource): string {
  return source.broker === 'kafka' ? `kafka:${source.topic}` : `amqp:${source.queue}`;
}

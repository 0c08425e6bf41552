/**
 * Profiles as loaded: the file validated, its mappings compiled, bound to the one tenant it acts
 * for. What a binding does with a message or an event is here, pure (no I/O): the consumer and
 * the event relay do the reading and publishing around it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml } from 'yaml';
import type { CloudEvent } from '../domain/events.js';
import { compileMapping, MappingError, toJson, type Mapping } from './mapping.js';
import {
  profileFile,
  type InboundBinding,
  type OutboundBinding,
  type ProfileCommand,
  type ProfileFile,
} from './schema.js';

/**
 * The metadata key a payment started by a profile's inbound binding carries (the profile's name):
 * outbound bindings with `origin: profile` map only such payments' events. Reserved (callers'
 * metadata may not use `paysaga.`): only the consumer sets it, after validation.
 */
export const PROFILE_METADATA_KEY = 'paysaga.profile';

export interface Profile {
  name: string;
  tenantId: string;
  file: ProfileFile;
  /** Where it was read from. */
  path: string;
  inbound: Inbound[];
  outbound: Outbound[];
}

export interface Inbound {
  profile: Pick<Profile, 'name' | 'tenantId'>;
  binding: InboundBinding;
  map: Mapping;
  idempotencyKey?: Mapping | undefined;
}

export interface Outbound {
  profile: Pick<Profile, 'name' | 'tenantId'>;
  binding: OutboundBinding;
  map: Mapping;
  when?: Mapping | undefined;
  key?: Mapping | undefined;
}

/** What an inbound binding made of a message. */
export type Interpreted =
  | {
      ok: true;
      command: ProfileCommand;
      /** The command's body (to be validated as the HTTP API validates it). */
      body: unknown;
      idempotencyKey?: string | undefined;
    }
  | { ok: false; reason: string };

/** One message an outbound binding made of an event. */
export interface OutboundMessage {
  binding: string;
  target: OutboundBinding['target'];
  /** The Kafka record key (Kafka targets). */
  key?: string | undefined;
  /** The message body, JSON. */
  body: string;
}

/** What a mapping may be given beside its input, looked up by the caller (never by the mapping). */
export interface Enrichment {
  /** A stable number for the event's payment, for contracts that need numeric payment ids. */
  paymentNumber?: number | undefined;
  /** The wallet's available balance (minor units) in the event's currency, for wallet events. */
  walletBalance?: number | undefined;
}

/** The folder the shipped profiles are in (`PROFILES=transit` reads profiles/transit.yaml). */
export function shippedProfilePath(root: string, name: string): string {
  return path.join(root, 'profiles', `${name}.yaml`);
}

/** Reads, validates and compiles a profile file for `tenantId`; throws with every problem found. */
export function loadProfile(file: string, tenantId: string): Profile {
  let raw: unknown;
  try {
    const text = readFileSync(file, 'utf8');
    raw = file.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new Error(`profile ${file}: ${(error as Error).message}`);
  }
  return compileProfile(raw, tenantId, file);
}

/** Validates and compiles a profile already read. */
export function compileProfile(raw: unknown, tenantId: string, where: string): Profile {
  const parsed = profileFile.safeParse(raw);
  if (!parsed.success)
    throw new Error(
      `profile ${where}: ` +
        parsed.error.issues
          .map((issue) => `${issue.path.join('.') || '(file)'}: ${issue.message}`)
          .join('; '),
    );
  const file = parsed.data;
  const context = { currency: file.defaults.currency };
  const profile = { name: file.profile, tenantId };
  const at = (list: 'inbound' | 'outbound', index: number, field: string) =>
    `profile ${file.profile} ${list} ${file[list][index]!.name} (${list}[${index}].${field})`;
  return {
    ...profile,
    file,
    path: where,
    inbound: file.inbound.map((binding, index) => ({
      profile,
      binding,
      map: compileMapping(binding.map, at('inbound', index, 'map'), context),
      idempotencyKey:
        binding.idempotencyKey === undefined
          ? undefined
          : compileMapping(binding.idempotencyKey, at('inbound', index, 'idempotencyKey'), context),
    })),
    outbound: file.outbound.map((binding, index) => ({
      profile,
      binding,
      map: compileMapping(binding.map, at('outbound', index, 'map'), context),
      when:
        binding.when === undefined
          ? undefined
          : compileMapping(binding.when, at('outbound', index, 'when'), context),
      key:
        'kafka' in binding.target && binding.target.kafka.key !== undefined
          ? compileMapping(binding.target.kafka.key, at('outbound', index, 'target.kafka.key'), context)
          : undefined,
    })),
  };
}

/** A message read by an inbound binding: the command's body and the message's idempotency key. */
export async function interpret(inbound: Inbound, message: unknown): Promise<Interpreted> {
  try {
    const body = await inbound.map.evaluate(message);
    if (body === undefined || body === null || typeof body !== 'object' || Array.isArray(body))
      return { ok: false, reason: `${inbound.binding.name}: the mapping gave no object for this message` };
    let idempotencyKey: string | undefined;
    if (inbound.idempotencyKey) {
      const key = await inbound.idempotencyKey.evaluate(message);
      if (typeof key !== 'string' && typeof key !== 'number')
        return { ok: false, reason: `${inbound.binding.name}: the message has no idempotency key` };
      idempotencyKey = String(key);
      if (idempotencyKey.length === 0 || idempotencyKey.length > 255)
        return {
          ok: false,
          reason: `${inbound.binding.name}: the idempotency key is empty or over 255 characters`,
        };
    }
    return { ok: true, command: inbound.binding.command, body: JSON.parse(toJson(body)), idempotencyKey };
  } catch (error) {
    if (error instanceof MappingError) return { ok: false, reason: error.message };
    throw error;
  }
}

/** Whether an outbound binding takes this event (its type, its origin, its `when`). */
export async function takes(outbound: Outbound, event: CloudEvent): Promise<boolean> {
  const { binding, profile } = outbound;
  if (event.tenantid !== profile.tenantId || !binding.events.includes(event.type)) return false;
  if (binding.origin === 'profile' && originOf(event) !== profile.name) return false;
  if (!outbound.when) return true;
  return (await outbound.when.evaluate(event)) === true;
}

/**
 * The message an outbound binding makes of an event it takes. Throws MappingError when the
 * mapping fails or gives nothing: the caller records it, and the event waits for a retry alone.
 */
export async function render(
  outbound: Outbound,
  event: CloudEvent,
  enrichment: Enrichment,
): Promise<OutboundMessage> {
  const variables = variablesOf(enrichment);
  const body = await outbound.map.evaluate(event, variables);
  if (body === undefined || body === null)
    throw new MappingError(
      `${outbound.binding.name}: the mapping gave nothing for ${event.type} ${event.id}`,
    );
  let key: string | undefined;
  if ('kafka' in outbound.binding.target) {
    const mapped = outbound.key ? await outbound.key.evaluate(event, variables) : event.subject;
    if (typeof mapped === 'string' || typeof mapped === 'number') key = String(mapped);
    else if (mapped !== undefined && mapped !== null)
      throw new MappingError(`${outbound.binding.name}: the record key is not a string or a number`);
  }
  return { binding: outbound.binding.name, target: outbound.binding.target, key, body: toJson(body) };
}

/** The profile whose inbound binding started the event's payment, if one did. */
export function originOf(event: CloudEvent): string | undefined {
  const metadata = (event.data as { metadata?: Record<string, unknown> } | null)?.metadata;
  const origin = metadata?.[PROFILE_METADATA_KEY];
  return typeof origin === 'string' ? origin : undefined;
}

/** What an outbound binding's enrichment needs looked up (so only those are). */
export function needs(outbound: Outbound): { paymentNumber: boolean; walletBalance: boolean } {
  const sources = [outbound.binding.map, outbound.binding.target];
  const text = JSON.stringify(sources);
  return { paymentNumber: text.includes('$paymentNumber'), walletBalance: text.includes('$walletBalance') };
}

function variablesOf(enrichment: Enrichment): Record<string, unknown> {
  return { paymentNumber: enrichment.paymentNumber ?? null, walletBalance: enrichment.walletBalance ?? null };
}

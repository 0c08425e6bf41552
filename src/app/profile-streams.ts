import type { CloudEvent } from '../domain/events.js';
import { MappingError } from '../profiles/mapping.js';
import { render, takes } from '../profiles/profile.js';
import type { ProfileRegistry } from '../profiles/registry.js';

/**
 * A customer's live stream in a profile's words: a client that connects with `?profile=` gets, for
 * each event, the messages the profile's `stream` bindings make of it (and nothing for events no
 * binding takes), instead of the CloudEvents.
 */
export class ProfileStreams {
  constructor(private readonly registry: ProfileRegistry) {}

  /** Whether the tenant has this profile with a stream binding. */
  streams(tenantId: string, profile: string): boolean {
    return (
      this.registry
        .profile(tenantId, profile)
        ?.outbound.some((outbound) => 'stream' in outbound.binding.target) ?? false
    );
  }

  /** The messages (JSON) the profile's stream bindings make of an event; a mapping that fails sends nothing. */
  async messages(
    tenantId: string,
    profile: string,
    event: CloudEvent,
    onError: (error: MappingError) => void,
  ): Promise<string[]> {
    const bindings = this.registry.profile(tenantId, profile)?.outbound ?? [];
    const messages: string[] = [];
    for (const outbound of bindings) {
      if (!('stream' in outbound.binding.target)) continue;
      try {
        if (await takes(outbound, event)) messages.push((await render(outbound, event, {})).body);
      } catch (error) {
        if (!(error instanceof MappingError)) throw error;
        onError(error);
      }
    }
    return messages;
  }
}

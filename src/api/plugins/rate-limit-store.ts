import { createRequire } from 'node:module';
import type { FastifyRateLimitStore, RateLimitPluginOptions } from '@fastify/rate-limit';

type Incr = (
  key: string,
  callback: (error: Error | null, result?: { current: number; ttl: number }) => void,
  // Passed at run time, though the package's types leave them out.
  timeWindow?: number,
  max?: number,
) => void;
interface Counters {
  incr: Incr;
  child(routeOptions: object): Counters;
}

// @fastify/rate-limit's own in-memory store (an LRU of counters), which it does not export by name.
const LocalStore = createRequire(import.meta.url)('@fastify/rate-limit/store/LocalStore') as new (
  continueExceeding?: boolean,
  exponentialBackoff?: boolean,
  cache?: number,
) => Counters;

/** The prefix of the keys of callers without a valid credential (counted by address). */
export const ANONYMOUS_PREFIX = 'anon:';

/** The customer's pages, counted by address among the callers without a credential. */
export const PAGES_PREFIX = `${ANONYMOUS_PREFIX}page:`;

/**
 * Two bucket spaces: callers with a valid credential in one LRU, the rest in another. Each LRU
 * holds a bounded number of counters and forgets the least recent when full, so a flood of
 * requests from many addresses fills only the anonymous one and never evicts (resets) a
 * tenant's count.
 */
export class SplitRateLimitStore implements FastifyRateLimitStore {
  readonly #known: Counters;
  readonly #anonymous: Counters;

  constructor(options: RateLimitPluginOptions | { known: Counters; anonymous: Counters }) {
    if ('known' in options) {
      this.#known = options.known;
      this.#anonymous = options.anonymous;
      return;
    }
    this.#known = new LocalStore(options.continueExceeding, options.exponentialBackoff, options.cache);
    this.#anonymous = new LocalStore(options.continueExceeding, options.exponentialBackoff, options.cache);
  }

  incr(...[key, ...rest]: Parameters<Incr>): void {
    (key.startsWith(ANONYMOUS_PREFIX) ? this.#anonymous : this.#known).incr(key, ...rest);
  }

  child(routeOptions: object): SplitRateLimitStore {
    return new SplitRateLimitStore({
      known: this.#known.child(routeOptions),
      anonymous: this.#anonymous.child(routeOptions),
    });
  }
}

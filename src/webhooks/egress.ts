import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import { isIP, type LookupFunction } from 'node:net';
import { AddressPolicy, type Network } from './address-policy.js';

/** A host name's addresses, as the operating system resolves it (dns.lookup: /etc/hosts, then DNS). */
export type Resolve = (hostname: string) => Promise<LookupAddress[]>;

const systemResolve: Resolve = (hostname) =>
  new Promise((resolve, reject) =>
    dnsLookup(hostname, { all: true }, (error, addresses) => (error ? reject(error) : resolve(addresses))),
  );

/**
 * What an attempt that got no HTTP answer shows the merchant. Never an address, a port or a
 * raw error message: a merchant's endpoint could otherwise map the network Paysaga runs in.
 */
export type FailureReason =
  | 'address not allowed'
  | 'name did not resolve'
  | 'connection refused'
  | 'connection reset'
  | 'host unreachable'
  | 'timed out'
  | 'TLS handshake failed'
  | 'invalid HTTP response'
  | 'connection failed';

export type PostResult = { statusCode: number } | { error: FailureReason };

const ADDRESS_NOT_ALLOWED = 'ERR_WEBHOOK_ADDRESS_NOT_ALLOWED';

class AddressNotAllowedError extends Error {
  readonly code = ADDRESS_NOT_ALLOWED;

  constructor(host: string) {
    super(`${host} is not an address webhooks may be sent to`);
  }
}

const REASONS: Record<string, FailureReason> = {
  [ADDRESS_NOT_ALLOWED]: 'address not allowed',
  ENOTFOUND: 'name did not resolve',
  EAI_AGAIN: 'name did not resolve',
  EAI_FAIL: 'name did not resolve',
  EAI_NODATA: 'name did not resolve',
  EAI_NONAME: 'name did not resolve',
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  EPIPE: 'connection reset',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'host unreachable',
  EHOSTDOWN: 'host unreachable',
  ENETDOWN: 'host unreachable',
  ETIMEDOUT: 'timed out',
  EPROTO: 'TLS handshake failed',
};

/** The generic reason for a failed request, from the error's code alone. */
export function failureReason(error: unknown): FailureReason {
  const code = (error as { code?: unknown } | undefined)?.code;
  if (typeof code !== 'string') return 'connection failed';
  if (REASONS[code]) return REASONS[code];
  // OpenSSL's and Node's TLS codes: CERT_HAS_EXPIRED, ERR_TLS_CERT_ALTNAME_INVALID, ERR_SSL_...
  if (/CERT|TLS|SSL/.test(code)) return 'TLS handshake failed';
  if (code.startsWith('HPE_')) return 'invalid HTTP response';
  return 'connection failed';
}

/** The IP address a URL names directly (any spelling the URL parser reads), or undefined for a name. */
function literalAddress(url: URL): string | undefined {
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return isIP(host) ? host : undefined;
}

/**
 * Outgoing webhook requests, held to the address policy at every step: registration checks what
 * a URL's host is or resolves to, and each POST checks the address it connects to, resolved for
 * that connection by the lookup the socket uses. A name that resolved to a public address when it
 * was registered and to an internal one now (DNS rebinding) is refused when it matters. The raw
 * error of a failed POST goes to the log; the caller gets a generic reason.
 */
export class WebhookEgress {
  readonly #policy: AddressPolicy;
  readonly #resolve: Resolve;
  readonly #log: (fields: Record<string, unknown>, message: string) => void;
  readonly #lookup: LookupFunction;

  constructor(options: {
    allowedNetworks: readonly Network[];
    log: (fields: Record<string, unknown>, message: string) => void;
    resolve?: Resolve | undefined;
  }) {
    this.#policy = new AddressPolicy(options.allowedNetworks);
    this.#resolve = options.resolve ?? systemResolve;
    this.#log = options.log;
    this.#lookup = this.#guardedLookup();
  }

  /**
   * Whether webhooks may go to this URL: its host is an allowed address, or a name that resolves,
   * to allowed addresses only. One answer for "internal" and "does not resolve", so a merchant
   * learns nothing about names inside the network.
   */
  async reaches(url: string): Promise<boolean> {
    // No parser makes an address of it (`http://a.5`: a last label of digits is IPv4): nowhere to go.
    if (!URL.canParse(url)) return false;
    const target = new URL(url);
    const literal = literalAddress(target);
    if (literal !== undefined) return this.#policy.allows(literal);
    try {
      return this.#allAllowed(await this.#resolve(target.hostname));
    } catch {
      return false;
    }
  }

  /** One POST; answered with the status code (the body is not read), or why there was none. */
  async post(
    url: string,
    request: { headers: Record<string, string>; body: string; timeoutMs: number },
    context: Record<string, unknown>,
  ): Promise<PostResult> {
    const signal = AbortSignal.timeout(request.timeoutMs);
    try {
      return { statusCode: await this.#send(new URL(url), request, signal) };
    } catch (cause) {
      const error = signal.aborted ? 'timed out' : failureReason(cause);
      this.#log({ ...context, err: cause }, `webhook POST failed: ${error}`);
      return { error };
    }
  }

  #send(target: URL, request: { headers: Record<string, string>; body: string }, signal: AbortSignal) {
    const literal = literalAddress(target);
    if (literal !== undefined && !this.#policy.allows(literal))
      return Promise.reject(new AddressNotAllowedError(literal));
    const client = target.protocol === 'https:' ? https : http;
    return new Promise<number>((resolve, reject) => {
      const outgoing = client.request(
        target,
        {
          method: 'POST',
          headers: { ...request.headers, 'content-length': String(Buffer.byteLength(request.body)) },
          // Names are resolved here, for this connection: the address checked is the one connected to.
          lookup: this.#lookup,
          signal,
        },
        (response) => {
          resolve(response.statusCode ?? 0);
          response.destroy();
        },
      );
      outgoing.on('error', reject);
      outgoing.end(request.body);
    });
  }

  #allAllowed(addresses: readonly LookupAddress[]): boolean {
    return addresses.length > 0 && addresses.every(({ address }) => this.#policy.allows(address));
  }

  /** net's `lookup`, answering only when every address of the name is allowed. */
  #guardedLookup(): LookupFunction {
    const guarded = (
      hostname: string,
      options: LookupOptions,
      callback: (error: Error | null, address: string | LookupAddress[], family?: number) => void,
    ) => {
      this.#resolve(hostname).then(
        (addresses) => {
          if (!this.#allAllowed(addresses)) return callback(new AddressNotAllowedError(hostname), '');
          // With autoSelectFamily (Node's default) net asks for every address, else for one.
          if (options.all) callback(null, addresses);
          else callback(null, addresses[0]!.address, addresses[0]!.family);
        },
        (error: Error) => callback(error, ''),
      );
    };
    return guarded;
  }
}

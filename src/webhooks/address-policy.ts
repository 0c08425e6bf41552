import ipaddr from 'ipaddr.js';

/** A network in CIDR form, parsed: `[address, prefix length]`. */
export type Network = [ipaddr.IPv4 | ipaddr.IPv6, number];

/**
 * IPv6's global unicast block. ipaddr.js names every address outside its special ranges
 * `unicast`, allocated or not (`::2`, `4000::1`), so IPv6 must also fall in here.
 */
const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/** `WEBHOOK_ALLOWED_NETWORKS`: comma-separated CIDR networks, IPv4 or IPv6. */
export function parseAllowedNetworks(value: string): Network[] {
  return value
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => {
      if (!ipaddr.isValidCIDR(entry))
        throw new Error(
          `WEBHOOK_ALLOWED_NETWORKS entry "${entry}" is not a network in CIDR form (127.0.0.0/8, ::1/128)`,
        );
      return ipaddr.parseCIDR(entry);
    });
}

/**
 * Where merchants' webhook endpoints may be: the public internet. Loopback, private, link-local
 * (the cloud metadata service at 169.254.169.254), carrier-grade NAT, multicast, broadcast,
 * unspecified and reserved addresses are refused, and so are the IPv6 ranges that lead to an IPv4
 * address (NAT64, 6to4, Teredo); an IPv4-mapped IPv6 address is judged as the IPv4 it maps. The
 * allowed networks lift the refusal for what they contain (`npm run dev`: loopback, where its
 * receivers listen). Addresses are parsed by ipaddr.js, so every spelling it knows is judged as
 * the address it means.
 */
export class AddressPolicy {
  constructor(private readonly allowed: readonly Network[] = []) {}

  allows(address: string): boolean {
    if (!ipaddr.isValid(address)) return false;
    const ip = ipaddr.process(address);
    if (this.allowed.some(([network, bits]) => network.kind() === ip.kind() && ip.match(network, bits)))
      return true;
    if (ip.range() !== 'unicast') return false;
    return ip.kind() === 'ipv4' || ip.match(GLOBAL_UNICAST_V6);
  }
}

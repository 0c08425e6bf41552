import { z } from 'zod';

/** The methods a routing rule can name: what the payment is paid with at a connector. */
export const ROUTED_METHODS = ['card', 'split', 'paypal'] as const;
export type RoutedMethod = (typeof ROUTED_METHODS)[number];

/** A connector's name, as the registry knows them (`sandbox`, `stripe`, `paypal`). */
export const connectorName = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'a connector name such as stripe');

const ruleMatch = z.strictObject({
  method: z.enum(ROUTED_METHODS).optional(),
  currency: z
    .string()
    .regex(/^[A-Z]{3}$/, 'an ISO 4217 code')
    .optional(),
  amountMin: z.int().min(0).optional(),
  amountMax: z.int().min(0).optional(),
  country: z
    .string()
    .regex(/^[A-Z]{2}$/, 'an ISO 3166-1 alpha-2 code')
    .optional(),
});

/**
 * A rule's shape alone, as an API schema can state it; `routingRule` adds what it cannot (a
 * range's order, each connector once), which the admin API checks as a 422.
 */
export const routingRuleShape = z.strictObject({
  match: ruleMatch.default({}),
  connectors: z.array(connectorName).min(1).max(5),
});

/**
 * One rule of a tenant's routing: the payments it matches (every condition given must hold) and
 * the connectors that take them, the first one primary, the rest fallbacks in order.
 */
export const routingRule = z.strictObject({
  match: ruleMatch
    .refine((m) => m.amountMin === undefined || m.amountMax === undefined || m.amountMin <= m.amountMax, {
      message: 'amountMin is at most amountMax',
    })
    .default({}),
  connectors: routingRuleShape.shape.connectors.refine(
    (list) => new Set(list).size === list.length,
    'each connector at most once',
  ),
});
export type RoutingRule = z.infer<typeof routingRule>;

/** `ROUTING_RULES`: tenant → its ordered rules (the first that matches decides). */
export const routingRules = z.record(z.string().min(1), z.array(routingRule).max(50));

/** What a payment is routed by. */
export interface RoutedPayment {
  method: RoutedMethod;
  currency: string;
  amount: number;
  country?: string | undefined;
}

export function ruleMatches(rule: RoutingRule, payment: RoutedPayment): boolean {
  const { method, currency, amountMin, amountMax, country } = rule.match;
  return (
    (method === undefined || method === payment.method) &&
    (currency === undefined || currency === payment.currency) &&
    (amountMin === undefined || payment.amount >= amountMin) &&
    (amountMax === undefined || payment.amount <= amountMax) &&
    (country === undefined || country === payment.country)
  );
}

/** The connectors of the first rule that matches, or undefined when none does. */
export function matchingRoute(
  rules: readonly RoutingRule[],
  payment: RoutedPayment,
): { rule: number; connectors: string[] } | undefined {
  const index = rules.findIndex((rule) => ruleMatches(rule, payment));
  const rule = rules[index];
  return rule ? { rule: index, connectors: [...rule.connectors] } : undefined;
}

/** `ROUTING_RULES` parsed, with every problem named; an empty value is no rules. */
export function parseRoutingRules(value: string | undefined): Map<string, RoutingRule[]> {
  if (value === undefined || value.trim() === '') return new Map();
  let json: unknown;
  try {
    json = JSON.parse(value);
  } catch {
    throw new Error('ROUTING_RULES is not JSON: {"<tenant>": [{"match": {...}, "connectors": [...]}]}');
  }
  const parsed = routingRules.safeParse(json);
  if (!parsed.success)
    throw new Error(`ROUTING_RULES: ${z.prettifyError(parsed.error).replaceAll('\n', '; ')}`);
  return new Map(Object.entries(parsed.data));
}

import { describe, expect, it } from 'vitest';
import { CircuitBreaker } from '../../src/gateway/circuit-breaker.js';
import { matchingRoute, parseRoutingRules, ruleMatches, type RoutingRule } from '../../src/domain/routing.js';
import { ConnectorRegistry } from '../../src/gateway/registry.js';
import type { PaymentGateway } from '../../src/gateway/port.js';

const rule = (match: RoutingRule['match'], connectors: string[]): RoutingRule => ({ match, connectors });
const eur = { method: 'card' as const, currency: 'EUR', amount: 5000 };

describe('routing rules', () => {
  it('a rule matches when every condition it gives holds', () => {
    expect(ruleMatches(rule({}, ['a']), eur)).toBe(true);
    expect(ruleMatches(rule({ currency: 'EUR', method: 'card' }, ['a']), eur)).toBe(true);
    expect(ruleMatches(rule({ currency: 'USD' }, ['a']), eur)).toBe(false);
    expect(ruleMatches(rule({ method: 'paypal' }, ['a']), eur)).toBe(false);
    expect(ruleMatches(rule({ amountMin: 5000, amountMax: 5000 }, ['a']), eur)).toBe(true);
    expect(ruleMatches(rule({ amountMin: 5001 }, ['a']), eur)).toBe(false);
    expect(ruleMatches(rule({ amountMax: 4999 }, ['a']), eur)).toBe(false);
    expect(ruleMatches(rule({ country: 'DE' }, ['a']), eur)).toBe(false);
    expect(ruleMatches(rule({ country: 'DE' }, ['a']), { ...eur, country: 'DE' })).toBe(true);
  });

  it('the first rule that matches decides', () => {
    const rules = [rule({ currency: 'USD' }, ['x']), rule({ amountMin: 1000 }, ['y', 'z']), rule({}, ['w'])];
    expect(matchingRoute(rules, eur)).toEqual({ rule: 1, connectors: ['y', 'z'] });
    expect(matchingRoute(rules, { ...eur, amount: 10 })).toEqual({ rule: 2, connectors: ['w'] });
    expect(matchingRoute([], eur)).toBeUndefined();
  });

  it('ROUTING_RULES is parsed and every mistake is named', () => {
    expect(parseRoutingRules(undefined).size).toBe(0);
    expect(parseRoutingRules(' ').size).toBe(0);
    const parsed = parseRoutingRules(
      '{"acme":[{"match":{"currency":"EUR"},"connectors":["sandbox","stripe"]}]}',
    );
    expect(parsed.get('acme')).toEqual([{ match: { currency: 'EUR' }, connectors: ['sandbox', 'stripe'] }]);
    expect(() => parseRoutingRules('{')).toThrow(/not JSON/);
    expect(() => parseRoutingRules('{"acme":[{"match":{"currency":"eur"},"connectors":["a"]}]}')).toThrow(
      /ISO 4217/,
    );
    expect(() => parseRoutingRules('{"acme":[{"connectors":[]}]}')).toThrow(/ROUTING_RULES/);
    expect(() => parseRoutingRules('{"acme":[{"connectors":["a","a"]}]}')).toThrow(/at most once/);
    expect(() =>
      parseRoutingRules('{"acme":[{"match":{"amountMin":10,"amountMax":5},"connectors":["a"]}]}'),
    ).toThrow(/amountMin is at most amountMax/);
    expect(() => parseRoutingRules('{"acme":[{"match":{"colour":"red"},"connectors":["a"]}]}')).toThrow();
  });
});

const fakeGateway = (name: string, methods?: ('card' | 'paypal')[]) =>
  ({ name, ...(methods ? { methods } : {}) }) as unknown as PaymentGateway;

describe('the registry routes', () => {
  const accounts = [
    { gateway: fakeGateway('sandbox') },
    { gateway: fakeGateway('stripe'), tenants: ['acme'] },
    { gateway: fakeGateway('paypal', ['paypal']), tenants: ['acme'] },
  ];

  it('refuses at start a rule naming a connector the tenant has no account on, or one that does not take the method', () => {
    expect(
      () =>
        new ConnectorRegistry(accounts, 'sandbox', new Map(), new Map([['other', [rule({}, ['stripe'])]]])),
    ).toThrow(/tenant other names connector "stripe"/);
    expect(
      () =>
        new ConnectorRegistry(
          accounts,
          'sandbox',
          new Map(),
          new Map([['acme', [rule({ method: 'paypal' }, ['stripe'])]]]),
        ),
    ).toThrow(/does not take them/);
  });

  it('gives the first matching rule its connectors that take the method, else the tenant default', () => {
    const registry = new ConnectorRegistry(
      accounts,
      'sandbox',
      new Map(),
      new Map([['acme', [rule({ currency: 'EUR' }, ['stripe', 'paypal', 'sandbox'])]]]),
    );
    expect(registry.routeFor('acme', eur)).toEqual({ connectors: ['stripe', 'sandbox'], rule: 0 });
    expect(registry.routeFor('acme', { ...eur, currency: 'USD' })).toEqual({ connectors: ['sandbox'] });
    expect(registry.routeFor('acme', { ...eur, method: 'paypal' })).toEqual({
      connectors: ['paypal'],
      rule: 0,
    });
    expect(registry.routeFor('other', { ...eur, method: 'paypal' })).toEqual({ connectors: [] });
  });
});

describe('the circuit breaker', () => {
  const options = { windowMs: 10_000, minimumCalls: 4, failureRate: 0.5, openMs: 5_000 };

  it('opens when half the calls in the window failed, and not before the minimum', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ ...options, now: () => now });
    breaker.record(true);
    breaker.record(true);
    breaker.record(true);
    expect(breaker.state()).toBe('closed');
    breaker.record(false);
    expect(breaker.state()).toBe('open');
    expect(breaker.allow()).toBe(false);
    now += 5_000;
    expect(breaker.state()).toBe('half_open');
  });

  it('lets one probe through when half open: a success closes it, a failure opens it again', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ ...options, now: () => now });
    for (let i = 0; i < 4; i++) breaker.record(true);
    now += 5_000;
    expect(breaker.allow()).toBe(true);
    expect(breaker.allow()).toBe(false);
    breaker.record(true);
    expect(breaker.state()).toBe('open');
    now += 5_000;
    expect(breaker.allow()).toBe(true);
    breaker.record(false);
    expect(breaker.state()).toBe('closed');
    expect(breaker.allow()).toBe(true);
  });

  it('forgets failures older than the window', () => {
    let now = 0;
    const breaker = new CircuitBreaker({ ...options, now: () => now });
    breaker.record(true);
    breaker.record(true);
    now += 11_000;
    breaker.record(false);
    breaker.record(false);
    breaker.record(true);
    expect(breaker.state()).toBe('closed');
  });
});

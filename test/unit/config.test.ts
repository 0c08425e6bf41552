import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEV_API_KEY, loadConfig } from '../../src/config.js';
import { kafkaClientOptions } from '../../src/events/kafka-connection.js';

describe('configuration', () => {
  it('uses the development keys on loopback', () => {
    expect(loadConfig({}).apiKeys.get(DEV_API_KEY)).toBe('default');
    expect(loadConfig({ HOST: '127.0.0.1' }).webhookSecret).toBe('whsec_dev_paysaga');
  });

  it('refuses to fall back to the public development keys on a reachable address', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(
      /API_KEYS, ADMIN_API_KEYS, GATEWAY_WEBHOOK_SECRET, WEBHOOK_ENCRYPTION_KEY, CUSTOMER_TOKEN_SECRET, RETURN_URL_SECRET/,
    );
    expect(() =>
      loadConfig({ HOST: '0.0.0.0', API_KEYS: 'sk_live_x:acme', ADMIN_API_KEYS: 'sk_admin_x' }),
    ).toThrow(/GATEWAY_WEBHOOK_SECRET/);
    const config = loadConfig({
      HOST: '0.0.0.0',
      API_KEYS: 'sk_live_x:acme',
      ADMIN_API_KEYS: 'sk_admin_x',
      GATEWAY_WEBHOOK_SECRET: 'whsec_x',
      WEBHOOK_ENCRYPTION_KEY: Buffer.alloc(32, 7).toString('base64'),
      CUSTOMER_TOKEN_SECRET: 'x'.repeat(40),
      RETURN_URL_SECRET: 'r'.repeat(40),
    });
    expect(config.apiKeys.get('sk_live_x')).toBe('acme');
    expect(config.apiKeys.has(DEV_API_KEY)).toBe(false);
  });

  it('needs its own return link secret in production, and allows http return URLs on loopback only outside it', () => {
    expect(() => loadConfig({ NODE_ENV: 'production' })).toThrow(/RETURN_URL_SECRET/);
    expect(() => loadConfig({ RETURN_URL_SECRET: 'too-short' })).toThrow();
    const production = loadConfig({ NODE_ENV: 'production', RETURN_URL_SECRET: 'r'.repeat(32) });
    expect(production.returnUrlSecret).toBe('r'.repeat(32));
    expect(production.returnUrlAllowHttpLoopback).toBe(false);
    expect(loadConfig({}).returnUrlAllowHttpLoopback).toBe(true);
    expect(loadConfig({ RETURN_URL_ALLOW_HTTP_LOOPBACK: 'false' }).returnUrlAllowHttpLoopback).toBe(false);
  });

  it('keeps declined payments open for a day unless the tenant has one attempt per order', () => {
    const defaults = loadConfig({});
    expect(defaults.attemptWindowMs).toBe(86_400_000);
    expect(defaults.singleAttemptTenants.size).toBe(0);
    const config = loadConfig({
      PAYMENT_ATTEMPT_WINDOW_SECONDS: '600',
      SINGLE_ATTEMPT_TENANTS: ' acme, shop ,',
    });
    expect(config.attemptWindowMs).toBe(600_000);
    expect([...config.singleAttemptTenants]).toEqual(['acme', 'shop']);
    expect(() => loadConfig({ PAYMENT_ATTEMPT_WINDOW_SECONDS: '0' })).toThrow(
      /PAYMENT_ATTEMPT_WINDOW_SECONDS/,
    );
  });

  it('holds an Idempotency-Key a little longer than a request can wait', () => {
    expect(loadConfig({ SYNC_WAIT_MS: '10000' }).idempotency.leaseSeconds).toBe(20);
  });

  it('reads per-tenant command secrets (two during a rotation) and sources bound to one tenant', () => {
    const config = loadConfig({
      API_KEYS: 'k1:default,k2:acme',
      COMMAND_SECRETS: 'default:cmdsec_0123456789abcdef|cmdsec_fedcba9876543210, acme:cmdsec_acme_0123456789',
      TENANT_COMMAND_SOURCES: 'orders.acme:acme',
    });
    expect(config.commands.secrets.get('default')).toEqual([
      'cmdsec_0123456789abcdef',
      'cmdsec_fedcba9876543210',
    ]);
    expect(config.commands.secrets.get('acme')).toEqual(['cmdsec_acme_0123456789']);
    expect(config.commands.tenantSources.get('orders.acme')).toBe('acme');
    // No secret unless configured: the consumer then authenticates no signed command.
    expect(loadConfig({}).commands.secrets.size).toBe(0);
  });

  it.each([
    [{ COMMAND_SECRETS: 'default:short' }, /at least 16 characters/],
    [{ COMMAND_SECRETS: 'nobody:cmdsec_0123456789abcdef' }, /names tenant nobody/],
    [{ TENANT_COMMAND_SOURCES: 'paysaga.commands:default' }, /shared by every tenant/],
    [{ TENANT_COMMAND_SOURCES: 'orders:nobody' }, /names tenant nobody/],
    [{ KAFKA_SASL_MECHANISM: 'PLAIN', KAFKA_SASL_USERNAME: 'u' }, /set together/],
    [
      { KAFKA_SASL_MECHANISM: 'GSSAPI', KAFKA_SASL_USERNAME: 'u', KAFKA_SASL_PASSWORD: 'p' },
      /KAFKA_SASL_MECHANISM/,
    ],
    [{ KAFKA_SSL_CA: '/ca.pem' }, /KAFKA_SSL is not true/],
  ])('refuses %o', (env, message) => {
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('passes Kafka TLS and SASL settings to every Kafka client', () => {
    const ca = path.join(mkdtempSync(path.join(tmpdir(), 'paysaga-ca-')), 'ca.pem');
    writeFileSync(ca, '-----BEGIN CERTIFICATE-----\n');
    const config = loadConfig({
      KAFKA_BROKERS: 'k1:9093,k2:9093',
      KAFKA_SSL: 'true',
      KAFKA_SSL_CA: ca,
      KAFKA_SASL_MECHANISM: 'SCRAM-SHA-512',
      KAFKA_SASL_USERNAME: 'paysaga',
      KAFKA_SASL_PASSWORD: 'secret',
    });
    expect(kafkaClientOptions({ brokers: config.kafkaBrokers!, security: config.kafkaSecurity })).toEqual({
      bootstrapBrokers: ['k1:9093', 'k2:9093'],
      tls: { ca: Buffer.from('-----BEGIN CERTIFICATE-----\n') },
      sasl: { mechanism: 'SCRAM-SHA-512', username: 'paysaga', password: 'secret' },
    });
    const plain = loadConfig({ KAFKA_BROKERS: 'k:9092' });
    expect(kafkaClientOptions({ brokers: plain.kafkaBrokers!, security: plain.kafkaSecurity })).toEqual({
      bootstrapBrokers: ['k:9092'],
    });
    // TLS with the public CAs when no CA file is given.
    expect(
      kafkaClientOptions({ brokers: ['k:9093'], security: loadConfig({ KAFKA_SSL: 'true' }).kafkaSecurity })
        .tls,
    ).toEqual({});
  });
});

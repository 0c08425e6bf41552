import { describe, expect, it } from 'vitest';
import { DEV_API_KEY, loadConfig } from '../../src/config.js';

describe('configuration', () => {
  it('uses the development keys on loopback', () => {
    expect(loadConfig({}).apiKeys.get(DEV_API_KEY)).toBe('default');
    expect(loadConfig({ HOST: '127.0.0.1' }).webhookSecret).toBe('whsec_dev_paysaga');
  });

  it('refuses to fall back to the public development keys on a reachable address', () => {
    expect(() => loadConfig({ HOST: '0.0.0.0' })).toThrow(
      /API_KEYS, ADMIN_API_KEYS, GATEWAY_WEBHOOK_SECRET, WEBHOOK_ENCRYPTION_KEY, CUSTOMER_TOKEN_SECRET/,
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
    });
    expect(config.apiKeys.get('sk_live_x')).toBe('acme');
    expect(config.apiKeys.has(DEV_API_KEY)).toBe(false);
  });

  it('holds an Idempotency-Key a little longer than a request can wait', () => {
    expect(loadConfig({ SYNC_WAIT_MS: '10000' }).idempotency.leaseSeconds).toBe(20);
  });
});

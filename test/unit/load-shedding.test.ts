import { describe, expect, it } from 'vitest';
import { DEV_API_KEY } from '../../src/config.js';
import { appWithUnreachableServices } from '../support/app.js';

describe('load shedding', () => {
  it('answers 503 with Retry-After while the process is past its memory limit', async () => {
    // Nothing behind the door may be reached: the pressure check answers first.
    const { app, reached } = await appWithUnreachableServices({ PRESSURE_MAX_HEAP_BYTES: '1' });
    try {
      // under-pressure samples memory once a second.
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      const response = await app.inject({
        method: 'GET',
        url: '/v1/payments',
        headers: { authorization: `Bearer ${DEV_API_KEY}` },
      });
      expect(response.statusCode).toBe(503);
      expect(response.headers['retry-after']).toBe('5');
      expect(response.json()).toMatchObject({ status: 503, code: 'overloaded' });
      expect(reached).toEqual([]);
    } finally {
      await app.close();
    }
  });
});

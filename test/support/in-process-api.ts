import { Client } from '@temporalio/client';
import { inject } from 'vitest';
import { buildApp } from '../../src/api/app.js';
import { connectTemporal } from '../../src/app/temporal-connection.js';
import { loadConfig } from '../../src/config.js';
import { connectDatabase } from '../../src/db/client.js';

/** An API inside the test's process, on the stack's PostgreSQL and Temporal (its own settings, stopped by the test). */
export async function startApi(settings: Record<string, string> = {}) {
  const env = inject('stackEnv');
  const database = connectDatabase(env.DATABASE_URL!, { max: 4 });
  const connection = connectTemporal(env.TEMPORAL_ADDRESS!);
  const config = loadConfig({ ...env, PORT: '0', ...settings });
  const app = await buildApp({
    config,
    db: database.db,
    temporal: new Client({ connection }),
    logger: false,
  });
  const url = await app.listen({ port: 0, host: '127.0.0.1' });
  return {
    url,
    app,
    close: async () => {
      await app.close();
      await app.services.streams.close();
      await connection.close();
      await database.close();
    },
  };
}

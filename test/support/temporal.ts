import { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, inject } from 'vitest';

/** A Temporal client on the stack's server for the test file that calls this (opened and closed with it). */
export function stackTemporal(): { readonly client: Client } {
  let connection: Connection | undefined;
  let client: Client | undefined;
  beforeAll(async () => {
    connection = await Connection.connect({ address: inject('temporalAddress') });
    client = new Client({ connection });
  });
  afterAll(async () => {
    await connection?.close();
  });
  return {
    get client() {
      return client!;
    },
  };
}

/** `npm run db:migrate`: applies the committed drizzle-kit migrations to DATABASE_URL. */
import { migrateDatabase } from '../src/db/client.js';

const url = process.env.DATABASE_URL;
if (!url) throw new Error('DATABASE_URL is required');
await migrateDatabase(url);
console.log('migrations applied');

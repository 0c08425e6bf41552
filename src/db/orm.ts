/**
 * drizzle-orm's functions, loaded as CommonJS. Loaded as ES modules, each of its ~450 files makes
 * Node's ESM resolver (22 and 24) deserialize the package's 179 KB package.json again: importing
 * `drizzle-orm/node-postgres` that way left 297 MB of RSS in a bare Node process, 169 MB of it
 * heap, against 68 MB through `require` (bench/README.md#memory). Every process here uses drizzle,
 * so its values come from this module; its types are imported from 'drizzle-orm' with
 * `import type`, which loads nothing.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

const orm = require('drizzle-orm') as typeof import('drizzle-orm');
export const { and, asc, desc, eq, gt, inArray, is, isNull, lt, lte, ne, or, Param, Placeholder, sql } = orm;

const pgCore = require('drizzle-orm/pg-core') as typeof import('drizzle-orm/pg-core');
export const {
  bigint,
  boolean,
  check,
  customType,
  PgDialect,
  date,
  index,
  integer,
  jsonb,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
} = pgCore;

export const { drizzle } = require('drizzle-orm/node-postgres') as typeof import('drizzle-orm/node-postgres');
export const { migrate } =
  require('drizzle-orm/node-postgres/migrator') as typeof import('drizzle-orm/node-postgres/migrator');

import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { projectPath } from '../../tools/stack/stack.js';
import { count, testDatabase } from '../support/db.js';
import { apiRaw, uid } from '../support/http.js';
import { TENANT_KEYS } from '../support/tenants.js';

const db = testDatabase();
afterAll(() => db.close());

/** Every email this file sends, valid or not: none may reach a log line. */
const emails: string[] = [];
function email(): string {
  const address = `${uid('jane')}@shop.example`;
  emails.push(address);
  return address;
}

const other = { key: TENANT_KEYS.other };

async function create(body: Record<string, unknown>, options: Parameters<typeof apiRaw>[3] = {}) {
  const res = await apiRaw('POST', '/v1/customers', body, options);
  if (res.status !== 201) throw new Error(`customer not created: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body as Record<string, any>;
}

const rowsOf = (tenantId: string, id: string) =>
  count(db, 'SELECT 1 FROM customers WHERE tenant_id = $1 AND id = $2', [tenantId, id]);

async function customerToken(customerId: string): Promise<string> {
  const res = await apiRaw('POST', '/v1/customer-tokens', { customerId });
  expect(res.status).toBe(201);
  return res.body.token as string;
}

describe('customers API', () => {
  it('creates a customer and reads it back; the same id again is a 409', async () => {
    const id = uid('cus');
    const address = email();
    const res = await apiRaw('POST', '/v1/customers', {
      id,
      email: address,
      name: 'Jane Doe',
      metadata: { tier: 'gold' },
    });
    expect(res.status).toBe(201);
    expect(res.body).toEqual({
      id,
      email: address,
      name: 'Jane Doe',
      metadata: { tier: 'gold' },
      createdAt: expect.any(String),
      updatedAt: res.body.createdAt,
    });
    expect(res.body).not.toHaveProperty('tenantId');
    expect((await apiRaw('GET', `/v1/customers/${id}`)).body).toEqual(res.body);

    const again = await apiRaw('POST', '/v1/customers', { id, name: 'Someone else' });
    expect(again.status).toBe(409);
    expect(again.headers.get('content-type')).toContain('application/problem+json');
    expect(again.body).toMatchObject({ status: 409, code: 'customer_exists' });
    // The first customer is as it was.
    expect((await apiRaw('GET', `/v1/customers/${id}`)).body).toEqual(res.body);
  });

  it('without email, name or metadata: an empty metadata map and no email nor name', async () => {
    const id = uid('cus');
    const created = await create({ id });
    expect(created).toEqual({
      id,
      metadata: {},
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    const missing = await apiRaw('GET', `/v1/customers/${uid('cus')}`);
    expect(missing.status).toBe(404);
    expect(missing.body).toMatchObject({ status: 404, code: 'customer_not_found' });
  });

  it('replays the first answer for the same Idempotency-Key, and refuses the key with another body', async () => {
    const id = uid('cus');
    const key = uid('idem');
    const body = { id, email: email() };
    const first = await apiRaw('POST', '/v1/customers', body, { headers: { 'idempotency-key': key } });
    expect(first.status).toBe(201);
    const replay = await apiRaw('POST', '/v1/customers', body, { headers: { 'idempotency-key': key } });
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(first.body);

    const reused = await apiRaw(
      'POST',
      '/v1/customers',
      { id: uid('cus'), email: email() },
      { headers: { 'idempotency-key': key } },
    );
    expect(reused.status).toBe(422);
    expect(reused.body.code).toBe('idempotency_key_reused');
    // Without the key, the same body is the second customer with that id.
    expect((await apiRaw('POST', '/v1/customers', body)).status).toBe(409);
    expect(await rowsOf('default', id)).toBe(1);
  });

  it('updates only the fields given; null clears email and name', async () => {
    const id = uid('cus');
    const created = await create({ id, email: email(), name: 'Jane', metadata: { a: '1' } });

    const newEmail = email();
    const renamed = await apiRaw('PATCH', `/v1/customers/${id}`, { email: newEmail });
    expect(renamed.status).toBe(200);
    expect(renamed.body).toMatchObject({ id, email: newEmail, name: 'Jane', metadata: { a: '1' } });
    expect(renamed.body.createdAt).toBe(created.createdAt);
    expect(Date.parse(renamed.body.updatedAt)).toBeGreaterThanOrEqual(Date.parse(created.updatedAt));

    const cleared = await apiRaw('PATCH', `/v1/customers/${id}`, {
      email: null,
      name: null,
      metadata: { b: '2' },
    });
    expect(cleared.status).toBe(200);
    expect(cleared.body).toEqual({
      id,
      metadata: { b: '2' },
      createdAt: created.createdAt,
      updatedAt: expect.any(String),
    });
    expect((await apiRaw('GET', `/v1/customers/${id}`)).body).toEqual(cleared.body);

    // Nothing given: the customer as it is.
    const unchanged = await apiRaw('PATCH', `/v1/customers/${id}`, {});
    expect(unchanged.status).toBe(200);
    expect(unchanged.body).toEqual(cleared.body);

    const unknown = await apiRaw('PATCH', `/v1/customers/${uid('cus')}`, { name: 'Nobody' });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('customer_not_found');
  });

  it('lists customers newest first, a page at a time', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push((await create({ id: uid(`cus${i}`) })).id as string);

    // Customers other files create meanwhile are newer than these: they come before, never between.
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const query: string = cursor ? `?limit=2&cursor=${cursor}` : '?limit=2';
      const res = await apiRaw('GET', `/v1/customers${query}`);
      expect(res.status).toBe(200);
      expect(res.body.data.length).toBeLessThanOrEqual(2);
      seen.push(...res.body.data.map((c: { id: string }) => c.id));
      cursor = res.body.nextCursor;
      pages++;
    } while (cursor && !ids.every((id) => seen.includes(id)) && pages < 1000);
    expect(new Set(seen).size).toBe(seen.length);
    expect(seen.filter((id) => ids.includes(id))).toEqual([...ids].reverse());

    const bad = await apiRaw('GET', '/v1/customers?cursor=not-one-of-ours');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('invalid_cursor');
    const tooMany = await apiRaw('GET', '/v1/customers?limit=101');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.code).toBe('validation_error');
  });

  it("keeps tenants apart: another tenant's key finds nothing, and may use the same id", async () => {
    const id = uid('cus');
    const mine = await create({ id, email: email(), name: 'Mine' });

    const read = await apiRaw('GET', `/v1/customers/${id}`, undefined, other);
    expect(read.status).toBe(404);
    expect(read.body.code).toBe('customer_not_found');
    const patch = await apiRaw('PATCH', `/v1/customers/${id}`, { name: 'Theirs' }, other);
    expect(patch.status).toBe(404);
    const listed = await apiRaw('GET', '/v1/customers?limit=100', undefined, other);
    expect(listed.status).toBe(200);
    expect(listed.body.data.map((c: { id: string }) => c.id)).not.toContain(id);

    const theirs = await create({ id, name: 'Theirs' }, other);
    expect(theirs).toMatchObject({ id, name: 'Theirs' });
    expect((await apiRaw('GET', `/v1/customers/${id}`)).body).toEqual(mine);
    expect((await apiRaw('GET', `/v1/customers/${id}`, undefined, other)).body).toEqual(theirs);
  });

  it('lets a customer token read its own customer and nothing else of these routes', async () => {
    const id = uid('cus');
    const someoneElse = uid('cus');
    const mine = await create({ id, email: email() });
    await create({ id: someoneElse, email: email() });
    const token = { key: await customerToken(id) };

    const own = await apiRaw('GET', `/v1/customers/${id}`, undefined, token);
    expect(own.status).toBe(200);
    expect(own.body).toEqual(mine);

    const forbidden: [string, string, unknown][] = [
      ['GET', `/v1/customers/${someoneElse}`, undefined],
      ['GET', '/v1/customers', undefined],
      ['PATCH', `/v1/customers/${id}`, { name: 'Changed by the app' }],
      ['POST', '/v1/customers', { id: uid('cus') }],
    ];
    for (const [method, path, body] of forbidden) {
      const res = await apiRaw(method, path, body, token);
      expect(res.status, `${method} ${path}`).toBe(403);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
    }
    expect((await apiRaw('GET', `/v1/customers/${id}`)).body).toEqual(mine);

    // A token of a customer the merchant never created: its own id, but nothing to read.
    const unknownId = uid('cus');
    const unknown = await apiRaw('GET', `/v1/customers/${unknownId}`, undefined, {
      key: await customerToken(unknownId),
    });
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('customer_not_found');
  });

  it('answers bad input with a 400 problem that names the field, not the value, and changes nothing', async () => {
    const id = uid('cus');
    const badEmail = `${uid('not an email')}@`;
    emails.push(badEmail);
    const longEmail = `${'a'.repeat(64)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.example`;
    emails.push(longEmail);
    const cases: [string, Record<string, unknown>][] = [
      ['an invalid email', { id, email: badEmail }],
      ['an email over 254 characters', { id, email: longEmail }],
      ['a name over 200 characters', { id, name: 'n'.repeat(201) }],
      ['a name with NUL', { id, name: 'Jane\u0000Doe' }],
      ['an id with a slash', { id: `${id}/x`, email: email() }],
      ['an empty id', { id: '', email: email() }],
      ['no id', { email: email() }],
      ['an unknown field', { id, email: email(), phone: '+44 20 7946 0000' }],
      ['a reserved metadata key', { id, metadata: { 'paysaga.reply': 'x' } }],
      ['a metadata value that is no string', { id, metadata: { n: 1 } }],
    ];
    for (const [name, body] of cases) {
      const res = await apiRaw('POST', '/v1/customers', body);
      expect(res.status, name).toBe(400);
      expect(res.headers.get('content-type')).toContain('application/problem+json');
      expect(res.body, name).toMatchObject({ status: 400, code: 'validation_error' });
      for (const address of emails) expect(JSON.stringify(res.body), name).not.toContain(address);
    }
    expect(await rowsOf('default', id)).toBe(0);

    const created = await create({ id, email: email(), name: 'Jane' });
    const patches: [string, Record<string, unknown>][] = [
      ['an invalid email', { email: badEmail }],
      ['the id', { id: uid('cus') }],
      ['a name that is no string', { name: 42 }],
      ['metadata null', { metadata: null }],
    ];
    for (const [name, body] of patches) {
      const res = await apiRaw('PATCH', `/v1/customers/${id}`, body);
      expect(res.status, name).toBe(400);
      expect(res.body, name).toMatchObject({ status: 400, code: 'validation_error' });
      expect(JSON.stringify(res.body), name).not.toContain(badEmail);
    }
    const malformed = await apiRaw('PATCH', `/v1/customers/${id}`, undefined, { raw: '{"email":' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.code).toBe('invalid_json');
    const badPath = await apiRaw('GET', `/v1/customers/${'x'.repeat(201)}`);
    expect(badPath.status).toBe(400);
    expect((await apiRaw('GET', `/v1/customers/${id}`)).body).toEqual(created);
  });

  it('documents the routes in the OpenAPI document under the customers tag', async () => {
    const spec = await apiRaw('GET', '/docs/json', undefined, { key: null });
    expect(spec.status).toBe(200);
    const collection = spec.body.paths['/v1/customers'];
    const item = spec.body.paths['/v1/customers/{id}'];
    expect(Object.keys(collection).sort()).toEqual(['get', 'post']);
    expect(Object.keys(item).sort()).toEqual(['get', 'patch']);
    for (const operation of [collection.get, collection.post, item.get, item.patch])
      expect(operation.tags).toEqual(['customers']);
    const body = collection.post.requestBody.content['application/json'].schema;
    expect(body.required).toEqual(['id']);
    expect(body.properties.email).toMatchObject({ format: 'email', maxLength: 254 });
    expect(body.properties.name.maxLength).toBe(200);
    expect(collection.post.responses['201'].links.GetCustomer.parameters).toEqual({
      id: '$response.body#/id',
    });
  });

  it('never writes an email to the log', async () => {
    // The request line of a marker request reaches the log after every request before it.
    const marker = uid('cus');
    await apiRaw('GET', `/v1/customers/${marker}`);
    const log = () => readFileSync(projectPath('.tmp', 'test-stack.log'), 'utf8');
    await expect.poll(() => log().includes(marker)).toBe(true);
    expect(emails.length).toBeGreaterThan(10);
    const text = log();
    for (const address of emails) expect(text.includes(address), address).toBe(false);
  });
});

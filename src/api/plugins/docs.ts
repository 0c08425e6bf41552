import swagger, { type FastifyDynamicSwaggerOptions } from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import { PROBLEM_MEDIA_TYPE } from '../problem.js';

/** Which key a route needs; set by `transform` on each operation and removed by `transformObject`. */
const ACCESS = 'x-paysaga-access';
type Access = 'public' | 'key' | 'admin';

interface ResponseObject {
  description?: string;
  content?: Record<string, { schema?: unknown }>;
  links?: Record<string, { operationRef: string; parameters: Record<string, string> }>;
}
interface OperationObject {
  requestBody?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
  responses?: Record<string, ResponseObject>;
  security?: unknown[];
  [ACCESS]?: Access;
}
interface OpenApiDocument {
  paths?: Record<string, Record<string, OperationObject | undefined>>;
  components?: { schemas?: Record<string, unknown> };
}

const problemContent = (document: OpenApiDocument): ResponseObject['content'] => ({
  [PROBLEM_MEDIA_TYPE]: {
    schema: document.components?.schemas?.Problem
      ? { $ref: '#/components/schemas/Problem' }
      : { type: 'object', required: ['type', 'title', 'status', 'code'] },
  },
});

/**
 * OpenAPI links: which response supplies the ids the next operations need. Clients (and
 * Schemathesis's stateful phase) follow them from a created payment to its capture, cancel,
 * refunds and wallet, from a refund to its read, from a created customer to its read, update, saved
 * cards and wallet top-up setting, and from a saved card to its read and deletion. A target's id
 * is the source body's field of the same name unless `fields` names another.
 */
type LinkTarget = [name: string, method: string, path: string, fields?: Record<string, string>];
const LINKS: { from: [method: string, path: string]; to: LinkTarget[] }[] = [
  {
    from: ['post', '/v1/payments'],
    to: [
      ['GetPayment', 'get', '/v1/payments/{id}'],
      ['CapturePayment', 'post', '/v1/payments/{id}/capture'],
      ['CancelPayment', 'post', '/v1/payments/{id}/cancel'],
      ['RefundPayment', 'post', '/v1/payments/{id}/refunds'],
      ['ListRefunds', 'get', '/v1/payments/{id}/refunds'],
      ['GetWallet', 'get', '/v1/wallets/{customerId}'],
    ],
  },
  {
    from: ['post', '/v1/payments/{id}/capture'],
    to: [['RefundPayment', 'post', '/v1/payments/{id}/refunds']],
  },
  { from: ['post', '/v1/payments/{id}/refunds'], to: [['GetRefund', 'get', '/v1/refunds/{id}']] },
  {
    from: ['post', '/v1/wallets/{customerId}/top-ups'],
    to: [['ListTransactions', 'get', '/v1/wallets/{customerId}/transactions']],
  },
  {
    from: ['post', '/v1/customers'],
    to: [
      ['GetCustomer', 'get', '/v1/customers/{id}'],
      ['UpdateCustomer', 'patch', '/v1/customers/{id}'],
      ['SavePaymentMethod', 'post', '/v1/customers/{id}/payment-methods'],
      ['ListPaymentMethods', 'get', '/v1/customers/{id}/payment-methods'],
      ['SetAutoTopUp', 'put', '/v1/wallets/{customerId}/auto-top-up', { customerId: 'id' }],
      ['GetAutoTopUp', 'get', '/v1/wallets/{customerId}/auto-top-up', { customerId: 'id' }],
      ['DeleteAutoTopUp', 'delete', '/v1/wallets/{customerId}/auto-top-up', { customerId: 'id' }],
    ],
  },
  {
    from: ['post', '/v1/customers/{id}/payment-methods'],
    to: [
      [
        'GetPaymentMethod',
        'get',
        '/v1/customers/{id}/payment-methods/{paymentMethodId}',
        { id: 'customerId', paymentMethodId: 'id' },
      ],
      [
        'DeletePaymentMethod',
        'delete',
        '/v1/customers/{id}/payment-methods/{paymentMethodId}',
        { id: 'customerId', paymentMethodId: 'id' },
      ],
    ],
  },
];

const operationRef = (method: string, path: string) =>
  `#/paths/${path.replaceAll('~', '~0').replaceAll('/', '~1')}/${method}`;

function addLinks(document: OpenApiDocument): void {
  for (const { from, to } of LINKS) {
    const responses = document.paths?.[from[1]]?.[from[0]]?.responses;
    if (!responses) continue;
    for (const status of ['200', '201', '202']) {
      const response = responses[status];
      if (!response) continue;
      for (const [name, method, path, fields = {}] of to) {
        if (!document.paths?.[path]?.[method]) continue;
        const parameters = Object.fromEntries(
          [...path.matchAll(/\{(\w+)\}/g)].map(([, param]) => [
            param!,
            `$response.body#/${fields[param!] ?? param!}`,
          ]),
        );
        response.links = {
          ...response.links,
          [name]: { operationRef: operationRef(method, path), parameters },
        };
      }
    }
  }
}

const isErrorStatus = (status: string) => /^[45]/.test(status) || status === 'default';

/** A body schema that accepts `null` means the body may be left out (body-less capture, refund). */
function acceptsNull(schema: unknown): boolean {
  if (!schema || typeof schema !== 'object') return false;
  const { type, anyOf } = schema as { type?: unknown; anyOf?: unknown[] };
  return type === 'null' || (Array.isArray(type) && type.includes('null')) || (anyOf ?? []).some(acceptsNull);
}

/**
 * Post-processes the generated OpenAPI document so it says what the server does:
 * - error responses (4xx, 5xx, default) are `application/problem+json`, not `application/json`;
 * - every route behind a key documents 401, and admin routes 403, as problems;
 * - every route documents 5XX (a masked internal_error problem);
 * - a body that may be null (capture, refund: "the rest") is not required.
 */
export function fixOpenApiDocument<T extends object>(input: T): T {
  const document = input as OpenApiDocument;
  for (const pathItem of Object.values(document.paths ?? {})) {
    for (const operation of Object.values(pathItem)) {
      if (!operation || typeof operation !== 'object' || !operation.responses) continue;
      const access: Access = operation[ACCESS] ?? 'key';
      delete operation[ACCESS];
      const body = operation.requestBody;
      if (body && acceptsNull(body.content?.['application/json']?.schema)) body.required = false;
      const responses = operation.responses;
      for (const [status, response] of Object.entries(responses)) {
        const json = response.content?.['application/json'];
        if (isErrorStatus(status) && json && !response.content?.[PROBLEM_MEDIA_TYPE])
          response.content = { [PROBLEM_MEDIA_TYPE]: json };
      }
      if (access !== 'public') {
        responses['401'] ??= {
          description: 'No API key, or an unknown one (code `unauthorized`)',
          content: problemContent(document),
        };
        if (access === 'admin')
          responses['403'] ??= {
            description: 'The key is not an admin key (code `forbidden`)',
            content: problemContent(document),
          };
      } else {
        operation.security = [];
      }
      responses['5XX'] ??= {
        description: 'An internal error; the detail never carries internals (code `internal_error`)',
        content: problemContent(document),
      };
    }
  }
  addLinks(document);
  return input;
}

const transform: FastifyDynamicSwaggerOptions['transform'] = (input) => {
  const result = jsonSchemaTransform(input);
  const config = (input.route.config ?? {}) as { public?: boolean; admin?: boolean };
  const access: Access = config.public ? 'public' : config.admin ? 'admin' : 'key';
  return { ...result, schema: { ...result.schema, [ACCESS]: access } };
};

const transformObject: FastifyDynamicSwaggerOptions['transformObject'] = (input) =>
  fixOpenApiDocument(jsonSchemaTransformObject(input));

/** OpenAPI generated from the routes' zod schemas; Swagger UI at /docs, JSON at /docs/json. */
export const docsPlugin = fp(
  async (app: FastifyInstance) => {
    await app.register(swagger, {
      openapi: {
        // 3.1: JSON Schema 2020-12, so record key rules (`propertyNames`) survive into the document.
        openapi: '3.1.0',
        info: {
          title: 'Paysaga API',
          version: '1.0.0',
          description: 'Durable payments, refunds and wallets.',
        },
        components: { securitySchemes: { apiKey: { type: 'http', scheme: 'bearer' } } },
        security: [{ apiKey: [] }],
      },
      transform,
      transformObject,
    });
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
  },
  { name: 'docs' },
);

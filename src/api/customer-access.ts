import type { FastifyRequest } from 'fastify';
import { ProblemError } from './problem.js';

/** With a customer token, only that customer's own data: another's is a 403. */
export function onlyCustomer(request: FastifyRequest, customerId: string): void {
  if (request.customerId !== undefined && request.customerId !== customerId)
    throw new ProblemError(
      403,
      'forbidden_for_customer_token',
      "a customer token reads only its own customer's data",
    );
}

export function ownedBy<T extends { customerId: string }>(request: FastifyRequest, resource: T): T {
  onlyCustomer(request, resource.customerId);
  return resource;
}

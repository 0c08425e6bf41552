import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';

/**
 * The connection to Temporal of the API and the command consumer. Lazy, so the process starts
 * (and the API answers 503s and `/readyz`) while Temporal is down, and connects once it is back.
 * The SDK's default retries an unavailable server for about 20 s before failing a call; a caller
 * is better served by a fast `unavailable` (an HTTP 503 with Retry-After, a broker message held
 * and retried), so calls give up after three quick attempts.
 */
export function connectTemporal(address: string): Connection {
  return Connection.lazy({
    address,
    connectTimeout: 2_000,
    // gRPC's reconnect backoff grows to minutes; after a Temporal restart the API should be back
    // within a couple of seconds, not wait out a long backoff.
    channelArgs: { 'grpc.initial_reconnect_backoff_ms': 200, 'grpc.max_reconnect_backoff_ms': 2_000 },
    interceptors: [
      makeGrpcRetryInterceptor(
        defaultGrpcRetryOptions({
          maxAttempts: 3,
          initialIntervalMs: () => 100,
          maxIntervalMs: () => 500,
        }),
      ),
    ],
  });
}

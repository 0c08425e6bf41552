import { Connection, defaultGrpcRetryOptions, makeGrpcRetryInterceptor } from '@temporalio/client';

/**
 * The API's connection to Temporal. Lazy, so the API starts (and answers 503s and `/readyz`)
 * while Temporal is down, and connects once it is back. The SDK's default retries an
 * unavailable server for about 20 s before failing a call; an HTTP caller is better served by
 * a fast 503 with Retry-After, so calls give up after three quick attempts.
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

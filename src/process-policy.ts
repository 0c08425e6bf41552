import type { Logger } from 'pino';

/** The exit code of a process that stops itself to be restarted clean (EX_SOFTWARE). */
export const RESTART_EXIT_CODE = 70;

/**
 * What every Paysaga process (api, worker, consumer, sandbox gateway) does with an error no code
 * caught, installed first thing in its main:
 * - an unhandled promise rejection is one operation that failed (a query of one stream, one
 *   send) and left nothing half-done in memory: it is logged with its stack and the process
 *   keeps serving. Node's default would exit and drop every other request in flight.
 * - an uncaught exception was thrown from a callback that stopped midway, and what it was
 *   changing may be inconsistent: it is logged as fatal and the process exits with
 *   {@link RESTART_EXIT_CODE}, so its supervisor (`npm run dev`, systemd, Kubernetes) starts a
 *   clean one, as it does after any crash.
 */
export function installProcessPolicy(logger: Logger): void {
  process.on('unhandledRejection', (reason) => {
    logger.error(
      { err: reason },
      'unhandled promise rejection: that operation failed, the process keeps serving',
    );
  });
  process.on('uncaughtException', (error, origin) => {
    logger.fatal({ err: error, origin }, 'uncaught exception: exiting to be restarted');
    process.exit(RESTART_EXIT_CODE);
  });
}

/**
 * A process with Paysaga's process policy and one unhandled failure (argv: `rejection` or
 * `exception`), for test/unit/process-policy.test.ts. It says `still serving` if it outlives it.
 */
import { pino } from 'pino';
import { installProcessPolicy } from '../../src/process-policy.js';

installProcessPolicy(pino({ name: 'child' }));
if (process.argv[2] === 'rejection') void Promise.reject(new Error('a query failed'));
else
  setImmediate(() => {
    throw new Error('a callback broke');
  });
// After the rejection was reported (end of this tick) and after the exception's callback.
setImmediate(() => setImmediate(() => console.log('still serving')));

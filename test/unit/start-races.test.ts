import { describe, expect, it } from 'vitest';
import { Circuit, isStartRace } from '../../src/app/dependencies.js';
import { retryingStartRaces } from '../../src/app/temporal.js';

/** A gRPC error as the Temporal client throws it: code, details and metadata on an Error. */
function grpcError(code: number, message: string, details: string): Error {
  return Object.assign(new Error(message), { code, details, metadata: {} });
}

// What Temporal answers an update-with-start whose start found the workflow created meanwhile
// (the client copies the failed operation's message and code onto the error).
const startRace = () =>
  grpcError(14, 'Workflow was not started: StartDeduped', 'Update-with-Start could not be executed.');
const outage = () => grpcError(14, '14 UNAVAILABLE: No connection established', 'No connection established');

describe('an update-with-start whose start lost a race', () => {
  it('is told apart from an outage', () => {
    expect(isStartRace(startRace())).toBe(true);
    expect(isStartRace(outage())).toBe(false);
    expect(isStartRace(new Error('Workflow was not started: StartDeduped'))).toBe(false);
  });

  it('is made again as a new call, whose answer is the answer', async () => {
    let calls = 0;
    const answer = await retryingStartRaces(async () => {
      calls++;
      if (calls === 1) throw startRace();
      return 'updated';
    });
    expect(answer).toBe('updated');
    expect(calls).toBe(2);
  });

  it.each([
    ['is given up after three calls, with the race as the error', startRace, 'Workflow was not started', 3],
    ['is the only error made again', outage, 'No connection established', 1],
  ])('%s', async (_what, error, message, expectedCalls) => {
    let calls = 0;
    const attempt = retryingStartRaces(async () => {
      calls++;
      throw error();
    });
    await expect(attempt).rejects.toThrow(message);
    expect(calls).toBe(expectedCalls);
  });

  it('does not open the circuit, which two outage errors do', async () => {
    const circuit = new Circuit('temporal', { threshold: 2, cooldownMs: 60_000 });
    for (let i = 0; i < 3; i++)
      await expect(circuit.run(() => Promise.reject(startRace()))).rejects.toThrow();
    expect(circuit.state.state).toBe('closed');
    for (let i = 0; i < 2; i++) await expect(circuit.run(() => Promise.reject(outage()))).rejects.toThrow();
    expect(circuit.state.state).toBe('open');
  });
});

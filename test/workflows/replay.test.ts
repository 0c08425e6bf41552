import { workflowSinks } from '../../src/tracing.js';
import { readdirSync, readFileSync } from 'node:fs';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { FIXTURES_DIR } from '../support/fixtures.js';

/**
 * Guards determinism: the committed histories (one or more per workflow type and branch,
 * recorded with RECORD_HISTORY=1 npm run test:workflows) must replay against today's workflow
 * code. A change that alters the commands a workflow issues fails here before it breaks running
 * payments in production.
 */
describe('replay', () => {
  let workflowBundle: { code: string };
  beforeAll(async () => {
    Runtime.install({ logger: new DefaultLogger('WARN') });
    workflowBundle = { code: inject('workflowBundleCode') };
  });

  const fixtures = readdirSync(FIXTURES_DIR).filter((f) => f.endsWith('-history.json'));

  it('has a recorded history for every workflow type', () => {
    const types = new Set(fixtures.map((f) => f.split('-')[0]));
    expect([...types].sort()).toEqual([
      'checkoutsession',
      'eventrelay',
      'payment',
      'refund',
      'topup',
      'webhookendpoint',
    ]);
  });

  it.each(fixtures)('replays %s', async (file) => {
    const history = historyFromJSON(JSON.parse(readFileSync(`${FIXTURES_DIR}/${file}`, 'utf8')));
    expect(history.events?.length).toBeGreaterThan(5);
    await Worker.runReplayHistory({ workflowBundle, sinks: workflowSinks() }, history, `fixture:${file}`);
  });

  it('detects a history that does not match the code', async () => {
    const json = JSON.parse(readFileSync('test/fixtures/payment-wallet-history.json', 'utf8'));
    // Rename the first local activity the workflow ran: the replayed code asks for another one.
    const marker = json.events.find(
      (e: any) => e.markerRecordedEventAttributes,
    ).markerRecordedEventAttributes;
    const payload = marker.details.data.payloads[0];
    const data = JSON.parse(Buffer.from(payload.data, 'base64').toString());
    expect(data.activity_type).toBe('recordPayment');
    data.activity_type = 'somethingElse';
    payload.data = Buffer.from(JSON.stringify(data)).toString('base64');
    await expect(
      Worker.runReplayHistory(
        { workflowBundle, sinks: workflowSinks() },
        historyFromJSON(json),
        'payment:default:tampered',
      ),
    ).rejects.toThrow();
  });
});

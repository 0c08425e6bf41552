import { patched } from '@temporalio/workflow';
import { boundedWorkflowId, MAX_WORKFLOW_ID_LENGTH } from '../domain/ids.js';

/**
 * The Temporal id of another workflow this one starts or signals (see boundedWorkflowId). Only an
 * id too long for SQL persistence changes, and only in histories from after the change: one
 * recorded before it used the whole id, and replays as it ran.
 */
export function workflowIdOf(natural: string): string {
  if (natural.length <= MAX_WORKFLOW_ID_LENGTH || !patched('bounded-workflow-ids')) return natural;
  return boundedWorkflowId(natural);
}

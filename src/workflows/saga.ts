import { log } from '@temporalio/workflow';

/**
 * An explicit compensation stack: each step that moved money adds its undo, a failure runs them
 * in reverse. An undo that fails is logged and reported, never swallowed: the caller decides
 * what a half-undone saga means (a payment or refund ends `requires_attention`).
 */
export class Saga {
  private readonly undos: { step: string; undo: () => Promise<unknown> }[] = [];

  add(step: string, undo: () => Promise<unknown>): void {
    this.undos.push({ step, undo });
  }

  /** The steps are done for good (the money was captured): nothing left to undo. */
  clear(): void {
    this.undos.length = 0;
  }

  /** Runs every undo, latest first; returns the steps whose undo failed. */
  async compensate(): Promise<string[]> {
    const failed: string[] = [];
    for (const { step, undo } of this.undos.reverse()) {
      try {
        await undo();
      } catch (error) {
        log.error('compensation failed', { step, error: String(error) });
        failed.push(step);
      }
    }
    this.clear();
    return failed;
  }
}

/**
 * Per-test cleanup: register each resource as it is made; everything is
 * released after the test, in reverse order, even when the test failed.
 */
import type { TestContext } from 'node:test';

export type Release = () => unknown;

/** Returns `defer(release)`; all releases run (newest first) after the test. */
export function scope(t: TestContext): (release: Release) => void {
  const stack: Release[] = [];
  t.after(async () => {
    const errors: unknown[] = [];
    for (const release of stack.reverse()) {
      try {
        await release();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, `${errors.length} cleanup step(s) failed`);
  });
  return (release) => {
    stack.push(release);
  };
}

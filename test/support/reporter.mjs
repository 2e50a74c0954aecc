/**
 * The suite's test reporter: node's own TAP output, unchanged (CI reads its
 * closing `# pass` / `# fail` lines), followed by the names of the tests that
 * failed, each with the first line of its error, so a failure among thousands
 * of TAP lines is found at the end of the log.
 *
 *   node --import tsx --test --test-reporter=./test/support/reporter.mjs …
 *
 * Plain JavaScript: node loads reporters before `--import tsx` applies.
 * test/unit/reporter.test.ts runs it on test/fixtures/reporter-sample.ts.
 */
import { relative } from 'node:path';
import process from 'node:process';
import { tap } from 'node:test/reporters';

/**
 * @typedef {{ file: string, names: string[], reason: string }} Failure
 * @typedef {{ type: string, data: any }} TestEvent
 */

/**
 * The lines printed after TAP's summary; none when nothing failed.
 * @param {readonly Failure[]} failures
 * @returns {string}
 */
function failureSummary(failures) {
  if (failures.length === 0) return '';
  const lines = failures.map(({ file, names, reason }) => `#   ${file === '' ? '' : `${file}: `}${names.join(' > ')}${reason === '' ? '' : ` (${reason})`}`);
  return `# failed tests (${failures.length}):\n${lines.join('\n')}\n`;
}

/**
 * Notes a failure of a test (not of a suite because of its subtests: those are listed themselves).
 * @param {TestEvent} event
 * @param {string[]} stack names of the tests started, by nesting level
 * @param {Failure[]} failures
 */
function note(event, stack, failures) {
  if (event.type === 'test:start') {
    // test:start events come in definition order: the stack names a test's parents
    stack.length = event.data.nesting;
    stack.push(event.data.name);
    return;
  }
  if (event.type !== 'test:fail' || event.data.todo !== undefined) return;
  const { data } = event;
  const error = data.details.error;
  if (data.details.type === 'suite' || error?.failureType === 'subtestsFailed') return;
  const cause = error?.cause instanceof Error ? error.cause : error;
  const first = String(cause?.message ?? cause ?? '').split('\n')[0] ?? '';
  const reason = `${cause?.name === undefined || cause.name === 'Error' ? '' : `${cause.name}: `}${first}`.slice(0, 200);
  failures.push({
    file: data.file === undefined ? '' : relative(process.cwd(), data.file),
    names: [...stack.slice(0, data.nesting), data.name],
    reason: error?.failureType === 'cancelledByParent' ? `cancelled: ${reason}` : reason,
  });
}

/**
 * @param {AsyncIterable<TestEvent>} source
 * @returns {AsyncGenerator<string, void>}
 */
export default async function* reporter(source) {
  /** @type {Failure[]} */
  const failures = [];
  /** @type {string[]} */
  const stack = [];
  async function* watched() {
    for await (const event of source) {
      note(event, stack, failures);
      yield event;
    }
  }
  yield* tap(watched());
  const summary = failureSummary(failures);
  if (summary !== '') yield summary;
}

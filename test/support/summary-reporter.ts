import type { Reporter, TestModule, TestRunEndReason } from 'vitest/node';

/**
 * Prints one plain line, `N passed, N failed` (`, N skipped` when any), after vitest's own
 * report, so CI and people read the outcome the same way.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>, reason: TestRunEndReason): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    for (const module of testModules) {
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') passed += 1;
        else if (state === 'failed') failed += 1;
        else skipped += 1;
      }
      // A file that failed to load has no tests but is a failure all the same.
      if (module.state() === 'failed' && ![...module.children.allTests()].some((test) => test.result().state === 'failed')) failed += 1;
    }
    failed += unhandledErrors.length;
    // A run that failed before any test ran (global setup, say) must not read as clean.
    if (reason === 'failed' && failed === 0) failed = 1;
    console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
  }
}

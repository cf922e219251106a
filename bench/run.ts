/**
 * `npm run bench [-- NAME ...]`: runs the named benchmarks (all when none is named). Each
 * prints its figure next to a reference measured in the same run, and the ratio.
 */
const BENCHMARKS: Record<string, () => Promise<void>> = {
  setup: async () => (await import('./setup-bench.ts')).runSetupBenchmark(),
};

const requested = process.argv.slice(2).filter((arg) => arg !== '--');
const unknown = requested.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}
for (const name of requested.length > 0 ? requested : Object.keys(BENCHMARKS)) {
  console.log(`\n## ${name}`);
  await BENCHMARKS[name]!();
}

/**
 * `npm run bench [-- NAME ...] [-- --quick]`: runs the named benchmarks (all when none is named). Each
 * prints its figure next to a reference measured in the same run, and the ratio.
 */
const BENCHMARKS: Record<string, (flags: string[]) => Promise<void>> = {
  setup: async () => (await import('./setup-bench.ts')).runSetupBenchmark(),
  ingest: async (flags) => (await import('./ingest-bench.ts')).runIngestBenchmark(flags),
  'order-flow': async (flags) => (await import('./order-flow-bench.ts')).runOrderFlowBenchmark(flags),
  backup: async (flags) => (await import('./backup-bench.ts')).runBackupBenchmark(flags),
  events: async (flags) => (await import('./events-bench.ts')).runEventsBenchmark(flags),
  api: async (flags) => (await import('./api-bench.ts')).runApiBenchmark(flags),
};

const args = process.argv.slice(2).filter((arg) => arg !== '--');
/** Flags such as --quick go to every benchmark run. */
const flags = args.filter((arg) => arg.startsWith('--'));
const requested = args.filter((arg) => !arg.startsWith('--'));
const unknown = requested.filter((name) => !(name in BENCHMARKS));
if (unknown.length > 0) {
  console.error(`Unknown benchmark ${unknown.join(', ')}; known: ${Object.keys(BENCHMARKS).join(', ')}`);
  process.exit(2);
}
for (const name of requested.length > 0 ? requested : Object.keys(BENCHMARKS)) {
  console.log(`\n## ${name}`);
  await BENCHMARKS[name]!(flags);
}

/**
 * `npm run bench`: the efficiency bench (bench/efficiency: both layouts beside the bare BullMQ graph,
 * or `--soak`); `--latency MS` the sizing run and `--in-process` the one-process bench (bench/in-process.ts).
 * Exit 0: every check passed; 1: a check failed; 2: it could not run (flags, Redis or Postgres).
 */
const argv = process.argv.slice(2);
const classic = argv.some((a) => a === '--in-process' || a === '--latency' || a.startsWith('--latency='));

async function main(): Promise<number> {
  if (classic) return (await import('./in-process.ts')).runInProcessBench();
  return (await import('./efficiency/main.ts')).runEfficiencyBench(argv);
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    const plain = err?.constructor?.name === 'CannotRun';
    process.stderr.write(plain ? `bench: ${err.message}\n` : `bench could not run: ${err?.stack ?? err}\n`);
    process.exit(2);
  },
);

import { runReconcile } from './reconcile-command.ts';

// `npm run reconcile [-- <taskId>] [--json]`: the command in reconcile-command.ts, as a program.
runReconcile(process.argv.slice(2), process.env, { out: process.stdout, err: process.stderr }).then((code) => process.exit(code));

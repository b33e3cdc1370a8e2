import { provisionTemporalCli } from './cli.js';

/** `npm run temporal:provision`: makes sure the pinned Temporal CLI is present and prints where it is. */
provisionTemporalCli((line) => console.log(line)).catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});

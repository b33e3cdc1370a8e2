import { provisionTemporalCli } from './cli.js';
import { provisionTemporalServer } from './postgres/provision.js';

/**
 * `npm run temporal:provision`: makes sure the pinned Temporal CLI is present and prints where it is.
 * With `--postgres-server` it also builds the PostgreSQL-backed server and its SQL tool (first run only,
 * minutes of `go install`), as `npm run temporal:postgres` and the mTLS test need.
 */
async function main() {
  const say = (line: string) => console.log(line);
  const args = process.argv.slice(2);
  const unknown = args.filter((a) => a !== '--postgres-server');
  if (unknown.length > 0) {
    console.error(`unknown argument ${unknown[0]}; usage: npm run temporal:provision [-- --postgres-server]`);
    process.exit(2);
  }
  await provisionTemporalCli(say);
  if (args.includes('--postgres-server')) await provisionTemporalServer(say);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
});

import { Command, CommanderError } from 'commander';

/** Exit code for bad input: a one-line message, never a stack trace. */
export const EXIT_BAD_INPUT = 2;

/** Builds the `shipsync` command tree. */
export function buildCli(): Command {
  const program = new Command('shipsync')
    .description('Keep ERP, dispatch and CRM in step, one Temporal workflow per shipment.')
    .option('--json', 'print machine-readable JSON')
    .exitOverride()
    .configureOutput({ outputError: (text, write) => write(text.split('\n')[0] + '\n') });

  program
    .command('demo')
    .description('play the whole scenario on the compressed clock and reconcile the three systems')
    .option('--shipments <n>', 'deliveries to seed', '50')
    .option('--keep-running', 'leave the stack up for the Web UI')
    .action(() => {
      console.error(
        'shipsync demo: the shipment workflow, sandboxes and gateway are not built yet; run `npm run temporal` to start the server.',
      );
      process.exitCode = 1;
    });
  return program;
}

async function main() {
  try {
    await buildCli().parseAsync(process.argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exit(err.exitCode === 0 ? 0 : EXIT_BAD_INPUT);
    }
    console.error(err instanceof Error ? err.message : String(err));
    process.exit(1);
  }
}

await main();

import { Command, CommanderError, InvalidArgumentError } from 'commander';
import { ZodError } from 'zod';
import { ConfigError, useSandboxProfile } from './config.js';

/** Exit code for bad input: a one-line message, never a stack trace. */
export const EXIT_BAD_INPUT = 2;

/** Bad input from the command line; printed as one line with exit code 2. */
export class UsageError extends Error {}

/**
 * A commander program that behaves like every shipsync command: errors come back to `runCommand` instead
 * of exiting, no "did you mean" guesses, help on standard output.
 */
export function newCommand(name: string): Command {
  return new Command(name)
    .exitOverride()
    .showSuggestionAfterError(false)
    .configureOutput({ writeErr: () => undefined, writeOut: (text) => process.stdout.write(text) });
}

/** The first line of an error's message, without commander's `error: ` prefix. */
function oneLine(err: unknown): string {
  if (err instanceof ZodError) return err.issues[0]?.message ?? 'invalid input';
  const text = err instanceof Error ? err.message : String(err);
  return (text.split('\n')[0] ?? '').replace(/^error: /, '');
}

/**
 * Parses `argv` (user arguments, without node and the script) and runs the chosen action. Returns the exit
 * code: the action's `process.exitCode` (0 by default), 2 with one line `<name>: <reason>` on standard
 * error for bad input, 1 with one line for any other failure.
 */
export async function runCommand(program: Command, argv: readonly string[]): Promise<number> {
  const say = (line: string) => process.stderr.write(`${program.name()}: ${line}\n`);
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return Number(process.exitCode ?? 0);
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0;
      say(oneLine(err));
      return EXIT_BAD_INPUT;
    }
    if (
      err instanceof UsageError ||
      err instanceof InvalidArgumentError ||
      err instanceof ZodError ||
      err instanceof ConfigError
    ) {
      say(oneLine(err));
      return EXIT_BAD_INPUT;
    }
    say(oneLine(err));
    return 1;
  }
}

/**
 * Runs a command as the process's entry point and exits with its code. Pass a function when building the
 * command can fail (e.g. defaults read from the configuration): that failure is reported the same way.
 */
export async function runMain(program: Command | (() => Command)): Promise<never> {
  let command: Command;
  try {
    command = typeof program === 'function' ? program() : program;
  } catch (err) {
    const bad = err instanceof ConfigError || err instanceof UsageError;
    process.stderr.write(`${oneLine(err)}\n`);
    process.exit(bad ? EXIT_BAD_INPUT : 1);
  }
  process.exit(await runCommand(command, process.argv.slice(2)));
}

/**
 * For entry points that run only against the sandboxes (demo, stack, chaos, bench, the dev Temporal servers):
 * selects the sandbox profile for this process and the ones it starts, or exits 2 with one line when another
 * profile is set.
 */
export function sandboxEntryPoint(tool: string): void {
  try {
    useSandboxProfile(tool);
  } catch (err) {
    process.stderr.write(`${tool}: ${err instanceof ConfigError ? err.lines().join('; ') : oneLine(err)}\n`);
    process.exit(EXIT_BAD_INPUT);
  }
}

/** An option parser for a number in [min, max] (an integer when asked). */
export function numberIn(label: string, min: number, max: number, integer = false) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max || (integer && !Number.isInteger(n)))
      throw new InvalidArgumentError(
        `${label} must be ${integer ? 'an integer' : 'a number'} from ${min} to ${max}`,
      );
    return n;
  };
}

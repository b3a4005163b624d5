#!/usr/bin/env node
/**
 * The `tsray` command. Each subcommand lives in its own file; this one only dispatches and turns a
 * usage error into a one-line reason and a non-zero exit.
 */
import { debugCommand } from './debug.js';
import { replayCommand } from './replay.js';
import { sessionsCommand } from './sessions.js';
import { simCommand } from './sim.js';
import { UsageError } from './usage.js';

const commands: Record<string, { run: (args: string[]) => Promise<number>; summary: string }> = {
  sim: { run: simCommand, summary: 'tsray sim SCRIPT [--seed N] [--runs K] [--faults SPEC] [-o DIR]   run a workload in the deterministic simulator' },
  replay: { run: replayCommand, summary: 'tsray replay TRACE [--verify]   re-run the reducers over a trace and check its state hashes' },
  debug: { run: debugCommand, summary: 'tsray debug [TRACE]   browse a trace in the terminal: events, state, diffs, timelines, why (no TRACE: the curated ones)' },
  sessions: { run: sessionsCommand, summary: 'tsray sessions [--json]   sessions kept on this machine, with sizes (old ones are pruned at init)' },
};

function help(): string {
  return ['usage: tsray COMMAND [options]', '', ...Object.values(commands).map((command) => `  ${command.summary}`)].join('\n');
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${help()}\n`);
    return name === undefined ? 2 : 0;
  }
  const command = commands[name];
  if (command === undefined) throw new UsageError(`unknown command '${name}'; this version has: ${Object.keys(commands).join(', ')} (see tsray --help)`);
  return command.run(rest);
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    process.stderr.write(`tsray: ${message}\n`);
    process.exitCode = error instanceof UsageError ? 2 : 1;
  },
);

/**
 * The `pargs` command line: dispatch, help, Ctrl-C → AbortSignal. Exit codes: 0 success, 1 no command
 * given, 2 a typed error (bad input, refused option), 130 stopped by Ctrl-C (the shell's 128 + SIGINT):
 * the first Ctrl-C aborts the command cleanly, a second exits at once.
 */
import { AbortError, PargsError } from '../errors.js';
import { helpText, parseFlags, type Command, type CommandIO } from './args.js';
import { demoCommand } from './demo.js';
import { evalCommand } from './eval.js';
import { evalLmCommand } from './eval-lm.js';
import { featuresCommand } from './features.js';
import { generateCommand } from './generate.js';
import { infoCommand } from './info.js';
import { sampleCommand } from './sample.js';
import { scoreCommand } from './score.js';
import { trainCommand } from './train.js';
import { pretrainCommand } from './pretrain.js';
import { recipeCommand } from './recipe.js';
import { nativeCommand } from './native.js';

const COMMANDS: Command[] = [demoCommand, infoCommand, generateCommand, trainCommand, featuresCommand, sampleCommand, scoreCommand, evalCommand, pretrainCommand, evalLmCommand, recipeCommand, nativeCommand] as unknown as Command[];

/** 128 + SIGINT, what shells report for a command stopped by Ctrl-C. */
const EXIT_INTERRUPTED = 130;

function overview(): string {
  const rows = COMMANDS.map((c) => `  ${c.name.padEnd(10)} ${c.summary}`);
  return ['pargs — partial-sequence reward models and reward-guided decoding', '', 'commands:', ...rows, '', 'Run "pargs COMMAND --help" for a command’s flags.'].join('\n');
}

export async function main(argv: readonly string[], io?: Partial<CommandIO>): Promise<number> {
  const out = io?.out ?? ((line: string) => process.stdout.write(`${line}\n`));
  const err = io?.err ?? ((line: string) => process.stderr.write(`${line}\n`));
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    out(overview());
    return name === undefined ? 1 : 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    err(`pargs: unknown command "${name}"\n\n${overview()}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    out(helpText(command));
    return 0;
  }
  const controller = new AbortController();
  const onSigint = (): void => {
    if (controller.signal.aborted) process.exit(EXIT_INTERRUPTED);
    // Aborted first, so a progress bar ends its line (cli/progress.ts) before this message.
    controller.abort();
    err('pargs: stopping (Ctrl-C again to force)…');
  };
  process.on('SIGINT', onSigint);
  try {
    const { flags, positionals } = parseFlags(command.flags, rest, command.name);
    if (!command.positionals && positionals.length > 0) {
      throw new PargsError(`pargs ${command.name}: unexpected argument "${positionals[0]}"; run "pargs ${command.name} --help"`);
    }
    return await command.run(flags, positionals, { out, err, signal: io?.signal ?? controller.signal, progress: io?.progress ?? (io?.err ? undefined : process.stderr) });
  } catch (e) {
    if (e instanceof AbortError) {
      err(`pargs ${command.name}: stopped (${e.message})`);
      return EXIT_INTERRUPTED;
    }
    if (e instanceof PargsError) {
      err(`${e.name}: ${e.message}`);
      return 2;
    }
    throw e;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

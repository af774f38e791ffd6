/**
 * The `astraea` command line. Each command builds its own commander `Command` in its own module;
 * this file assembles them and turns errors into a one-line message and an exit code: 1 for an
 * EngineError (bad input the engine refused), 2 for bad usage (commander's own errors).
 */
import { Command, CommanderError } from 'commander';
import { EngineError } from '../errors.js';
import { endQuietlyOnClosedPipe } from '../util/closed-pipe.js';
import { benchCommand } from './bench.js';
import { calibrateCommand } from './calibrate.js';
import { infoCommand } from './info.js';
import { logitsCommand } from './logits.js';
import { makeModelCommand } from './make-model.js';
import { microCommand } from './micro.js';
import { serveCommand } from './serve.js';
import { simulateCommand } from './simulate.js';

function program(): Command {
  const root = new Command('astraea')
    .description('a serving engine for LLM agents')
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) })
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText(
      'after',
      '\nA model is a Hugging Face directory (Llama, Mistral, Qwen2; safetensors F32/F16/BF16), a GGUF\n' +
        'file (F32/F16/BF16/Q8_0) or a preset (tiny, small) with seeded random weights. `astraea <command> --help` for its options.',
    );
  for (const command of [benchCommand(), simulateCommand(), calibrateCommand(), serveCommand(), makeModelCommand(), logitsCommand(), infoCommand(), microCommand()]) {
    // Settings are copied to a subcommand only when it is created by .command(); these are built apart.
    command.configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) }).exitOverride().allowExcessArguments(false);
    root.addCommand(command);
  }
  return root;
}

export async function main(argv: string[]): Promise<number> {
  endQuietlyOnClosedPipe({ keepRunning: argv[0] === 'serve' });
  const root = program();
  if (argv.length === 0) {
    process.stdout.write(root.helpInformation());
    return 0;
  }
  try {
    await root.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      // Help and version exit with 0; commander has already printed its message.
      return error.exitCode === 0 ? 0 : 2;
    }
    if (error instanceof EngineError) {
      process.stderr.write(`astraea ${argv[0]}: ${error.message} [${error.code}]\n`);
      return 1;
    }
    throw error;
  }
}

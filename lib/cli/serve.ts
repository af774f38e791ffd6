/**
 * `astraea serve`: the OpenAI-compatible HTTP server (lib/server) on one engine. SIGINT or
 * SIGTERM stops taking calls, lets those in flight finish, then closes the engine.
 */
import { basename } from 'node:path';
import { Engine } from '../engine/engine.js';
import { EngineError } from '../errors.js';
import { POLICY_NAMES, type PolicyName } from '../sched/registry.js';
import { buildServer } from '../server/app.js';
import { integerOption, loadOptions, MODEL_OPTIONS, parse } from './args.js';

export const SERVE_USAGE = `astraea serve [--model DIR | --preset tiny|small] [--policy astraea] [--port 8000] [--host 127.0.0.1]
              [--api-key KEY] [--served-model-name NAME] [--kv-blocks N] [--max-waiting N]
              [--job-idle-s S] [--no-auto-bind] [--dummy] [--dtype D] [--threads N] [--log]`;

export async function runServe(args: string[]): Promise<void> {
  const values = parse(args, {
    ...MODEL_OPTIONS,
    preset: { type: 'string' },
    policy: { type: 'string' },
    port: { type: 'string' },
    host: { type: 'string' },
    'api-key': { type: 'string' },
    'served-model-name': { type: 'string' },
    'kv-blocks': { type: 'string' },
    'max-waiting': { type: 'string' },
    'job-idle-s': { type: 'string' },
    'no-auto-bind': { type: 'boolean' },
    log: { type: 'boolean' },
  });
  if (values.model && values.preset) throw new EngineError('INVALID_ARGUMENT', 'give --model or --preset, not both');
  const model = values.model ?? values.preset ?? 'tiny';
  const policy = (values.policy ?? 'astraea') as PolicyName;
  if (!POLICY_NAMES.includes(policy)) throw new EngineError('INVALID_ARGUMENT', `--policy must be one of ${POLICY_NAMES.join(', ')}`);
  const load = loadOptions({ ...values, model });
  const engine = await Engine.create({ ...load, policy, kvBlocks: integerOption(values['kv-blocks'], 'kv-blocks', 1024, 1) });
  const modelName = values['served-model-name'] ?? (values.model ? basename(values.model) : model);
  const jobIdleS = Number(values['job-idle-s'] ?? 600);
  if (!(jobIdleS > 0)) throw new EngineError('INVALID_ARGUMENT', '--job-idle-s must be a number of seconds > 0');
  const { app } = buildServer(engine, {
    modelName,
    apiKey: values['api-key'],
    maxWaiting: integerOption(values['max-waiting'], 'max-waiting', 256, 1),
    jobIdleS,
    autoBind: !values['no-auto-bind'],
    logger: values.log ?? false,
  });
  const port = integerOption(values.port, 'port', 8000);
  const host = values.host ?? '127.0.0.1';
  try {
    await app.listen({ port, host });
  } catch (error) {
    await engine.close();
    throw new EngineError('INVALID_ARGUMENT', `cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  process.stdout.write(`astraea serve: model "${modelName}" (${engine.backendKind}), policy ${policy}, http://${host}:${port}/v1\n`);

  await new Promise<void>((resolve) => {
    const stop = (signal: string) => {
      process.stdout.write(`astraea serve: ${signal}, finishing calls in flight\n`);
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void app.close().then(() => engine.close()).then(resolve);
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

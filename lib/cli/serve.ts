/**
 * `astraea serve`: the OpenAI-compatible HTTP server (lib/server) on one engine. SIGINT or
 * SIGTERM drains it: no new calls (`/health` answers 503), the calls in flight finish for up to
 * `--drain-timeout-s`, the rest are cut with a `server_shutting_down` error, then the engine
 * closes and the process exits 0. A second signal cuts at once.
 */
import { basename } from 'node:path';
import { Command } from 'commander';
import { Engine } from '../engine/engine.js';
import type { KvEventsSink } from '../kv-events/sink.js';
import { EngineError } from '../errors.js';
import { POLICY_NAMES, type PolicyName } from '../sched/registry.js';
import type { AstraeaServer } from '../server/app.js';
import { respondWhileLoading, type LoadingResponder } from '../server/loading-responder.js';
import { addModelOptions, integerOption, KV_DTYPE_HELP, kvDtypeOption, loadOptions, type ModelFlags } from './args.js';
import { policyOptionsFrom } from './workload-flags.js';

interface ServeFlags extends ModelFlags {
  preset?: string;
  policy: string;
  port: string;
  host: string;
  apiKey?: string;
  protectMetrics?: boolean;
  servedModelName?: string;
  kvBlocks: string;
  kvDtype?: string;
  maxWaiting: string;
  jobIdleS: string;
  autoBind: boolean;
  drainTimeoutS: string;
  log: boolean;
  kvEvents?: string;
  kvEventsTopic: string;
  set: string[];
}

export function serveCommand(): Command {
  return addModelOptions(new Command('serve').description('an OpenAI-compatible HTTP endpoint (/v1/chat/completions, /v1/completions, /metrics)'))
    .option('--preset <tiny|small>', 'serve a preset with seeded random weights (instead of --model)')
    .option('--policy <name>', `scheduling policy (${POLICY_NAMES.join(', ')})`, 'astraea')
    .option('--set <policy.key=value>', "one of the policy's options over its default, e.g. astraea.batchWidth=all (repeatable)", (item: string, all: string[]) => [...all, item], [])
    .option('--port <n>', 'port', '8000')
    .option('--host <addr>', 'address to listen on', '127.0.0.1')
    .option('--api-key <key>', 'require this bearer token on every route but /health (default: $ASTRAEA_API_KEY, which keeps it out of ps)')
    .option('--protect-metrics', 'with an API key, /metrics needs it too')
    .option('--served-model-name <name>', 'the model name clients use')
    .option('--kv-blocks <n>', 'device KV blocks of 16 tokens', '1024')
    .option('--kv-dtype <auto|f32|bf16>', KV_DTYPE_HELP)
    .option('--max-waiting <n>', 'requests queued before new ones get 429', '256')
    .option('--job-idle-s <s>', 'close an agent job idle this long', '600')
    .option('--no-auto-bind', 'do not bind follow-up calls to a job by their conversation prefix')
    .option('--drain-timeout-s <s>', 'on SIGTERM, let calls in flight finish this long, then cut them', '30')
    .option('--no-log', 'do not log a JSON line per call (outcome, job, status, tokens, duration)')
    .option('--kv-events <endpoint>', "publish vLLM's KV events on a ZeroMQ PUB socket (tcp://*:5557 binds; needs the optional zeromq and @msgpack/msgpack)")
    .option('--kv-events-topic <topic>', 'the topic frame of each KV-event message (llm-d: kv@<pod>@<model>)', '')
    .action(runServe);
}

async function runServe(values: ServeFlags): Promise<void> {
  if (values.model && values.preset) throw new EngineError('INVALID_ARGUMENT', 'give --model or --preset, not both');
  const model = values.model ?? values.preset ?? 'tiny';
  const policy = values.policy as PolicyName;
  if (!POLICY_NAMES.includes(policy)) throw new EngineError('INVALID_ARGUMENT', `--policy must be one of ${POLICY_NAMES.join(', ')}`);
  const options = policyOptionsFrom(values);
  const other = Object.keys(options).find((name) => name !== policy);
  if (other !== undefined) throw new EngineError('INVALID_ARGUMENT', `--set names an option of ${other}, but the policy served is ${policy}`);
  const apiKey = values.apiKey ?? process.env.ASTRAEA_API_KEY;
  if (apiKey !== undefined && apiKey.length === 0) throw new EngineError('INVALID_ARGUMENT', 'the API key must not be empty');
  if (values.protectMetrics && apiKey === undefined) throw new EngineError('INVALID_ARGUMENT', '--protect-metrics needs an API key (--api-key or ASTRAEA_API_KEY)');
  const jobIdleS = Number(values.jobIdleS);
  if (!(jobIdleS > 0)) throw new EngineError('INVALID_ARGUMENT', '--job-idle-s must be a number of seconds > 0');
  const drainTimeoutS = Number(values.drainTimeoutS);
  if (!(drainTimeoutS >= 0)) throw new EngineError('INVALID_ARGUMENT', '--drain-timeout-s must be a number of seconds >= 0');
  const host = values.host ?? '127.0.0.1';
  // The port answers at once: /health is 503 "loading" until the model is in (./loading-responder.ts).
  let loading: LoadingResponder;
  try {
    loading = await respondWhileLoading(host, integerOption(values.port, 'port', 8000));
  } catch (error) {
    throw new EngineError('INVALID_ARGUMENT', `cannot listen on ${host}:${values.port}: ${(error as Error).message}`);
  }
  const port = loading.port; // the one the system chose, for --port 0
  process.stdout.write(`astraea serve: loading "${model}"; http://${host}:${port}/health answers 503 until it is ready\n`);
  let engine: Engine;
  try {
    const load = loadOptions({ ...values, model });
    const kvEvents = await openKvEventsFlag(values);
    engine = await Engine.create({ ...load, policy, policyOptions: options[policy], kvBlocks: integerOption(values.kvBlocks, 'kv-blocks', 1024, 1), kvDtype: kvDtypeOption(values.kvDtype), kvEvents });
  } catch (error) {
    await loading.close();
    throw error;
  }
  const modelName = values.servedModelName ?? (values.model ? basename(values.model) : model);
  let server: AstraeaServer;
  try {
    // fastify takes most of a second to import: only this command pays it.
    const { buildServer } = await import('../server/app.js');
    server = buildServer(engine, {
      modelName,
      apiKey,
      protectMetrics: values.protectMetrics ?? false,
      maxWaiting: integerOption(values.maxWaiting, 'max-waiting', 256, 1),
      jobIdleS,
      autoBind: values.autoBind,
      logger: values.log,
    });
  } catch (error) {
    await Promise.all([loading.close(), engine.close()]);
    throw error;
  }
  let address: string;
  try {
    // The server proper takes the port over from the loading responder (a gap of a millisecond or two).
    await loading.close();
    address = await server.app.listen({ port, host });
  } catch (error) {
    await engine.close();
    throw new EngineError('INVALID_ARGUMENT', `cannot listen on ${host}:${port}: ${(error as Error).message}`);
  }
  // The address fastify reports, so `--port 0` prints the port the system chose.
  process.stdout.write(`astraea serve: model "${modelName}" (${engine.backendKind}), policy ${policy}, ${address}/v1\n`);

  await new Promise<void>((resolve) => {
    let draining = false;
    const stop = (signal: string) => {
      if (draining) {
        process.stdout.write(`astraea serve: ${signal} again, cutting the calls in flight now\n`);
        void server.drain(0);
        return;
      }
      draining = true;
      process.stdout.write(`astraea serve: ${signal}, draining: calls in flight have ${drainTimeoutS} s to finish\n`);
      void server
        .drain(drainTimeoutS)
        .then(({ cut }) => {
          process.stdout.write(`astraea serve: drained${cut > 0 ? `, ${cut} call(s) cut at the deadline` : ''}\n`);
          return engine.close();
        })
        .then(() => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          resolve();
        });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/**
 * `--kv-events`: vLLM's KV events on a ZeroMQ PUB socket (docs/server.md, "KV events"), loaded
 * only when asked for, with their optional packages. NONE_HASH's seed is PYTHONHASHSEED, as in
 * vLLM, so a router configured for vLLM computes the same block hashes.
 */
async function openKvEventsFlag(values: ServeFlags): Promise<KvEventsSink | undefined> {
  if (values.kvEvents === undefined) return undefined;
  const { openKvEvents } = await import('../kv-events/open-kv-events.js');
  const sink = await openKvEvents({ endpoint: values.kvEvents, topic: values.kvEventsTopic, hashSeed: process.env.PYTHONHASHSEED ?? '' });
  process.stdout.write(`astraea serve: KV events on ${values.kvEvents}${values.kvEventsTopic ? `, topic "${values.kvEventsTopic}"` : ''}\n`);
  return sink;
}

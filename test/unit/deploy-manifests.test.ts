/**
 * deploy/: the Dockerfiles and the Kubernetes manifests, checked offline (no Docker, no cluster
 * here; docs/deploy.md). The InferencePool is validated against the published CRD's schema
 * (test/fixtures/k8s/), the core objects against Kubernetes' own schemas (kubernetes-models), and
 * by hand what no schema checks: that the pieces point at each other (labels, ports, names), that
 * every flag given to `astraea serve` is one it accepts, and that the probe and drain timings fit.
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { ConfigMap, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import { serveCommand } from '../../lib/cli/serve.js';
import { SESSION_COOKIE } from '../../lib/server/session-cookie.js';

const ROOT = join(import.meta.dirname, '..', '..');
const K8S_DIR = join(ROOT, 'deploy', 'k8s');
const read = (...path: string[]) => readFileSync(join(ROOT, ...path), 'utf8');

// A Kubernetes object, loosely typed: the tests walk them as plain YAML.
type Obj = Record<string, any>;

function loadManifests(): Map<string, Obj[]> {
  const files = new Map<string, Obj[]>();
  for (const file of readdirSync(K8S_DIR).filter((f) => f.endsWith('.yaml')).sort()) {
    const docs = parseAllDocuments(readFileSync(join(K8S_DIR, file), 'utf8'));
    for (const doc of docs) {
      if (doc.errors.length > 0 || doc.warnings.length > 0) throw new Error(`${file}: ${[...doc.errors, ...doc.warnings].join('; ')}`);
    }
    files.set(file, docs.map((doc) => doc.toJS() as Obj).filter((o) => o !== null));
  }
  return files;
}

const MANIFESTS = loadManifests();
const OBJECTS = [...MANIFESTS.values()].flat();

function one(kind: string, name: string): Obj {
  const found = OBJECTS.filter((o) => o.kind === kind && o.metadata?.name === name);
  expect(found, `${kind}/${name}`).toHaveLength(1);
  return found[0];
}

const pool = one('InferencePool', 'astraea');
const deployment = one('Deployment', 'astraea');
const podLabels: Record<string, string> = deployment.spec.template.metadata.labels;
const container: Obj = deployment.spec.template.spec.containers[0];
const eppDeployment = one('Deployment', 'astraea-epp');
const eppContainer: Obj = eppDeployment.spec.template.spec.containers[0];

// --- The Dockerfile, as instructions: comments dropped, continuation lines joined. ---

interface Instruction {
  op: string;
  args: string;
}

function dockerInstructions(text: string): Instruction[] {
  const joined = text
    .split('\n')
    .filter((line) => !line.trimStart().startsWith('#'))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map((line) => {
      const space = line.indexOf(' ');
      return { op: line.slice(0, space).toUpperCase(), args: line.slice(space + 1).trim() };
    });
}

/** The stages, each the instructions from its FROM to the next. */
function dockerStages(text: string): Instruction[][] {
  const stages: Instruction[][] = [];
  for (const instruction of dockerInstructions(text)) {
    if (instruction.op === 'FROM') stages.push([]);
    stages.at(-1)!.push(instruction);
  }
  return stages;
}

const args = (stage: Instruction[], op: string) => stage.filter((i) => i.op === op).map((i) => i.args);
const execForm = (stage: Instruction[], op: string): string[] => JSON.parse(args(stage, op).at(-1)!);

// --- `astraea serve`'s own option parser (commander), without running the server. ---

function parseServe(argv: string[]) {
  const command = serveCommand().exitOverride();
  command.configureOutput({ writeErr: () => {}, writeOut: () => {} });
  const { operands, unknown } = command.parseOptions(argv);
  return { operands, unknown, opts: command.opts() };
}

function serveDefault(long: string): string {
  const option = serveCommand().options.find((o) => o.long === long);
  if (option === undefined) throw new Error(`astraea serve has no ${long}`);
  return option.defaultValue as string;
}

/** The arguments `serve` gets in a pod: the image's entrypoint after "serve", then the pod's args. */
function podServeArgv(): string[] {
  const entrypoint = execForm(dockerStages(read('deploy', 'Dockerfile')).at(-1)!, 'ENTRYPOINT');
  return [...entrypoint.slice(entrypoint.indexOf('serve') + 1), ...(container.args as string[])];
}

function containerPort(c: Obj, port: string | number): number {
  if (typeof port === 'number') return port;
  const named = (c.ports as Obj[]).find((p) => p.name === port);
  if (named === undefined) throw new Error(`no container port named ${port}`);
  return named.containerPort;
}

describe('the InferencePool against the published CRD', () => {
  const crd = parse(read('test', 'fixtures', 'k8s', 'inference.networking.k8s.io_inferencepools.yaml'));
  const [apiGroup, apiVersion] = (pool.apiVersion as string).split('/');
  const version = (crd.spec.versions as Obj[]).find((v) => v.name === apiVersion);

  function validator(): ValidateFunction {
    // strict: false lets Ajv skip Kubernetes' own keywords (x-kubernetes-*) and the OpenAPI
    // formats are given their Kubernetes meaning (int32 and int64 integers).
    const ajv = new Ajv({ strict: false, allErrors: true });
    ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31 });
    ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
    ajv.addFormat('date-time', { type: 'string', validate: (s: string) => !Number.isNaN(Date.parse(s)) });
    return ajv.compile(version!.schema.openAPIV3Schema);
  }

  it('is the file its README names (sha256)', () => {
    const bytes = readFileSync(join(ROOT, 'test', 'fixtures', 'k8s', 'inference.networking.k8s.io_inferencepools.yaml'));
    expect(read('test', 'fixtures', 'k8s', 'README.md')).toContain(createHash('sha256').update(bytes).digest('hex'));
  });

  it('names the CRD’s group, kind and a served, stored version', () => {
    expect(apiGroup).toBe(crd.spec.group);
    expect(pool.kind).toBe(crd.spec.names.kind);
    expect(version).toMatchObject({ served: true, storage: true });
  });

  it('is valid under the version’s openAPIV3Schema', () => {
    const validate = validator();
    expect(validate(pool), JSON.stringify(validate.errors)).toBe(true);
  });

  it('the validator does reject what the schema forbids (so the pass above means something)', () => {
    const validate = validator();
    const broken = (edit: (p: Obj) => void) => {
      const copy = structuredClone(pool);
      edit(copy);
      return validate(copy);
    };
    expect(broken((p) => (p.spec.selector.matchLabels['llm-d.ai/model'] = 'org/model'))).toBe(false); // "/" is no label value
    expect(broken((p) => (p.spec.targetPorts = []))).toBe(false); // minItems 1
    expect(broken((p) => (p.spec.targetPorts = [{ number: 70000 }]))).toBe(false); // a port above 65535
    expect(broken((p) => (p.spec.endpointPickerRef.failureMode = 'Sometimes'))).toBe(false); // enum
    expect(broken((p) => delete p.spec.selector)).toBe(false); // required
  });

  it('keeps the CRD’s CEL rules, checked by hand (Ajv cannot run CEL)', () => {
    // The rules as the CRD states them: if the CRD changes them, this test must be revisited.
    const spec = version!.schema.openAPIV3Schema.properties.spec.properties;
    expect(spec.targetPorts['x-kubernetes-validations'].map((r: Obj) => r.rule)).toEqual(['self.all(p1, self.exists_one(p2, p1.number==p2.number))']);
    expect(spec.endpointPickerRef['x-kubernetes-validations'].map((r: Obj) => r.rule)).toEqual(["self.kind != 'Service' || has(self.port)"]);
    const numbers = (pool.spec.targetPorts as Obj[]).map((p) => p.number);
    expect(new Set(numbers).size).toBe(numbers.length);
    const ref = pool.spec.endpointPickerRef;
    expect((ref.kind ?? 'Service') !== 'Service' || ref.port !== undefined).toBe(true);
  });
});

describe('the core objects against Kubernetes’ schemas (kubernetes-models: types, required fields, enums)', () => {
  const models: Record<string, new (data: any) => { validate(): void }> = { Deployment, Service, ConfigMap, ServiceAccount, Role, RoleBinding };

  it('every object is of a kind checked here or below', () => {
    const kinds = new Set(OBJECTS.map((o) => o.kind));
    for (const kind of kinds) expect([...Object.keys(models), 'InferencePool', 'HTTPRoute', 'Kustomization']).toContain(kind);
  });

  for (const [kind, Model] of Object.entries(models)) {
    it(`${kind}s validate`, () => {
      const objects = OBJECTS.filter((o) => o.kind === kind);
      expect(objects.length).toBeGreaterThan(0);
      for (const object of objects) expect(() => new Model(object).validate(), `${kind}/${object.metadata.name}`).not.toThrow();
    });
  }

  it('the kustomization lists every manifest in deploy/k8s', () => {
    const kustomization = MANIFESTS.get('kustomization.yaml')![0];
    const others = [...MANIFESTS.keys()].filter((f) => f !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(others);
  });
});

describe('the pieces point at each other', () => {
  it('the pool, the Deployment and the Service select the replicas’ pod labels', () => {
    const selects = (selector: Record<string, string>) => Object.entries(selector).every(([k, v]) => podLabels[k] === v);
    expect(selects(pool.spec.selector.matchLabels)).toBe(true);
    expect(selects(deployment.spec.selector.matchLabels)).toBe(true);
    expect(selects(one('Service', 'astraea').spec.selector)).toBe(true);
  });

  it('the pods carry the labels llm-d selects and filters on', () => {
    expect(podLabels).toMatchObject({ 'llm-d.ai/inference-serving': 'true', 'llm-d.ai/inferenceServing': 'true', 'llm-d.ai/role': 'decode' });
    // The model label is the name clients send as `model`.
    expect(parseServe(podServeArgv()).opts.servedModelName).toBe(podLabels['llm-d.ai/model']);
  });

  it('one port: the entrypoint’s --port, the container port, the pool’s target port, the Service’s target', () => {
    const port = Number(parseServe(podServeArgv()).opts.port);
    expect(port).toBe(8000);
    expect(containerPort(container, 'http')).toBe(port);
    expect(pool.spec.targetPorts).toEqual([{ number: port }]);
    const service = one('Service', 'astraea').spec.ports[0];
    expect(containerPort(container, service.targetPort)).toBe(port);
    expect(Number(args(dockerStages(read('deploy', 'Dockerfile')).at(-1)!, 'EXPOSE').at(-1))).toBe(port);
  });

  it('the probes ask /health on that port', () => {
    for (const probe of ['startupProbe', 'readinessProbe', 'livenessProbe']) {
      expect(container[probe].httpGet.path, probe).toBe('/health');
      expect(containerPort(container, container[probe].httpGet.port), probe).toBe(8000);
    }
  });

  it('the pool’s endpoint picker is the EPP Service, whose port reaches the EPP’s ext_proc port', () => {
    const ref = pool.spec.endpointPickerRef;
    const service = one('Service', ref.name);
    const port = (service.spec.ports as Obj[]).find((p) => p.port === ref.port.number);
    expect(port).toBeDefined();
    expect(Object.entries(service.spec.selector).every(([k, v]) => eppDeployment.spec.template.metadata.labels[k] === v)).toBe(true);
    expect(containerPort(eppContainer, port!.targetPort)).toBe(9002);
  });

  it('the EPP watches this pool and reads the config file its ConfigMap mounts', () => {
    const eppArgs: string[] = eppContainer.args;
    expect(eppArgs[eppArgs.indexOf('--pool-name') + 1]).toBe(pool.metadata.name);
    expect(eppArgs[eppArgs.indexOf('--pool-group') + 1]).toBe(pool.apiVersion.split('/')[0]);
    const configFile = eppArgs[eppArgs.indexOf('--config-file') + 1];
    const mount = (eppContainer.volumeMounts as Obj[]).find((m) => configFile.startsWith(`${m.mountPath}/`))!;
    const volume = (eppDeployment.spec.template.spec.volumes as Obj[]).find((v) => v.name === mount.name)!;
    const configMap = one('ConfigMap', volume.configMap.name);
    expect(Object.keys(configMap.data)).toContain(configFile.slice(mount.mountPath.length + 1));
    const subject = one('RoleBinding', 'astraea-epp').subjects[0];
    expect(eppDeployment.spec.template.spec.serviceAccountName).toBe(subject.name);
    // The API server requires a ServiceAccount subject's namespace (no schema here says so).
    expect(subject.namespace).toBe(MANIFESTS.get('kustomization.yaml')![0].namespace);
  });

  it('the EPP may read its pool and the pods', () => {
    const rules: Obj[] = one('Role', 'astraea-epp').rules;
    const allows = (group: string, resource: string) => rules.some((r) => r.apiGroups.includes(group) && r.resources.includes(resource) && ['get', 'list', 'watch'].every((v) => r.verbs.includes(v)));
    expect(allows('', 'pods')).toBe(true);
    expect(allows('inference.networking.k8s.io', 'inferencepools')).toBe(true);
  });

  it('the HTTPRoute sends /v1 to the pool', () => {
    const route = one('HTTPRoute', 'astraea');
    expect(route.spec.rules[0].backendRefs).toEqual([{ group: 'inference.networking.k8s.io', kind: 'InferencePool', name: pool.metadata.name }]);
    expect(route.spec.rules[0].matches[0].path).toEqual({ type: 'PathPrefix', value: '/v1' });
  });
});

describe('astraea serve in the pod', () => {
  it('gets only flags it accepts, with values of the right form', () => {
    const { operands, unknown, opts } = parseServe(podServeArgv());
    expect(operands).toEqual([]);
    expect(unknown).toEqual([]);
    expect(opts.host).toBe('0.0.0.0');
    for (const integer of ['threads', 'kvBlocks']) expect(Number.isInteger(Number(opts[integer])), integer).toBe(true);
    expect(opts.preset ?? opts.model).toBeDefined();
  });

  it('the parser used here does refuse a flag serve lacks (so the check above means something)', () => {
    expect(parseServe(['--presett', 'small']).unknown).toEqual(['--presett', 'small']);
  });

  it('one kernel thread per CPU of the container’s limit', () => {
    expect(Number(parseServe(podServeArgv()).opts.threads)).toBe(Number(container.resources.limits.cpu));
  });

  it('the API key comes from a Secret through $ASTRAEA_API_KEY, never on the command line', () => {
    expect(container.env).toContainEqual({ name: 'ASTRAEA_API_KEY', valueFrom: { secretKeyRef: { name: 'astraea-api-key', key: 'api-key' } } });
    expect(parseServe(podServeArgv()).opts.apiKey).toBeUndefined();
    // The source reads the variable (lib/cli/serve.ts).
    expect(read('lib', 'cli', 'serve.ts')).toContain('process.env.ASTRAEA_API_KEY');
  });

  it('the grace period outlasts the drain; liveness outlasts it too; loading is the startup probe’s', () => {
    const drainS = Number(parseServe(podServeArgv()).opts.drainTimeoutS);
    const graceS = deployment.spec.template.spec.terminationGracePeriodSeconds;
    // The drain's deadline, the second given to open connections, then the engine's close.
    expect(graceS).toBeGreaterThan(drainS + 1);
    // /health is 503 while draining: liveness must not give up on a draining pod.
    const liveness = container.livenessProbe;
    expect(liveness.periodSeconds * liveness.failureThreshold).toBeGreaterThan(drainS);
    // Liveness and readiness only start once the startup probe has seen a 200 (the model is in).
    expect(container.startupProbe.periodSeconds * container.startupProbe.failureThreshold).toBeGreaterThanOrEqual(300);
  });

  it('runs as the image’s non-root user', () => {
    const user = args(dockerStages(read('deploy', 'Dockerfile')).at(-1)!, 'USER').at(-1)!;
    const podSecurity = deployment.spec.template.spec.securityContext;
    expect(podSecurity.runAsNonRoot).toBe(true);
    expect(`${podSecurity.runAsUser}:${podSecurity.runAsGroup}`).toBe(user);
    expect(podSecurity.runAsUser).toBeGreaterThan(0);
  });
});

describe('the endpoint picker’s scheduler configuration', () => {
  const config = parse(one('ConfigMap', 'astraea-epp').data['astraea-epp.yaml']);
  const plugins: Obj[] = config.plugins;
  const nameOf = (p: Obj) => p.name ?? p.type; // the router names an unnamed plugin by its type
  const plugin = (type: string) => plugins.find((p) => p.type === type)!;
  const profile: Obj[] = config.schedulingProfiles.find((p: Obj) => p.name === 'default').plugins;
  const weight = (type: string) => profile.find((ref) => ref.pluginRef === nameOf(plugin(type)))?.weight;

  it('is an EndpointPickerConfig whose profile names only configured plugins', () => {
    expect(config).toMatchObject({ apiVersion: 'llm-d.ai/v1alpha1', kind: 'EndpointPickerConfig' });
    const names = plugins.map(nameOf);
    expect(new Set(names).size).toBe(names.length);
    for (const ref of profile) expect(names).toContain(ref.pluginRef);
  });

  it('gives parameters each plugin knows (the router decodes them strictly)', () => {
    // Transcribed from llm-d/llm-d-router v0.10.0 (the json tags of each plugin's parameters).
    const known: Record<string, string[]> = {
      'session-id-producer': ['headerName', 'cookieName'],
      'session-affinity-scorer': ['strategy', 'encodedEndpointHeaderConfig', 'sessionIdConfig', 'profileName'],
      'approx-prefix-cache-producer': ['autoTune', 'blockSizeTokens', 'blockSize', 'maxPrefixBlocksToMatch', 'maxPrefixTokensToMatch', 'lruCapacityPerServer'],
      'prefix-cache-scorer': ['prefixMatchInfoProducerName', 'matchLengthWeight', 'matchLengthScaleTokens'],
      'metrics-data-source': ['scheme', 'path', 'port', 'insecureSkipVerify', 'caCertPath', 'clientCertPath', 'clientKeyPath', 'interval'],
      'core-metrics-extractor': ['engineLabelKey', 'defaultEngine', 'engineConfigs'],
      'queue-scorer': [],
      'kv-cache-utilization-scorer': [],
      'max-score-picker': ['maxNumOfEndpoints'],
    };
    for (const p of plugins) {
      expect(Object.keys(known), p.type).toContain(p.type);
      for (const key of Object.keys(p.parameters ?? {})) expect(known[p.type], `${p.type}.${key}`).toContain(key);
    }
    const session = plugin('session-affinity-scorer').parameters.sessionIdConfig;
    for (const key of Object.keys(session)) expect(['sources', 'evictionTtlSeconds', 'evictionSweepSeconds']).toContain(key);
    for (const source of session.sources) expect(Object.keys(source).length === 1 && ('header' in source || 'attribute' in source)).toBe(true);
  });

  it('scores session affinity by the header and the cookie Astraea groups a job by', () => {
    const scorer = plugin('session-affinity-scorer').parameters;
    expect(scorer.strategy).toBe('session_id');
    expect(scorer.sessionIdConfig.sources[0]).toEqual({ header: 'x-session-token' });
    expect(read('lib', 'server', 'routes', 'chat.ts')).toContain("header('x-session-token')");
    // The cookie: the producer reads the cookie the server sets, and the scorer reads the
    // producer's attribute, keyed "<data type>/<producer name>" at v0.10.0.
    const producer = plugin('session-id-producer');
    expect(producer.parameters).toEqual({ cookieName: SESSION_COOKIE });
    expect(scorer.sessionIdConfig.sources[1]).toEqual({ attribute: `SessionIDDataKey/${nameOf(producer)}` });
    // A binding lives at least as long as the job it leads to (--job-idle-s).
    expect(scorer.sessionIdConfig.evictionTtlSeconds).toBeGreaterThanOrEqual(Number(serveDefault('--job-idle-s')));
    expect(weight('session-affinity-scorer')).toBeGreaterThan(0);
  });

  it('scores prefix-cache hits from the approximate producer, and load from /metrics', () => {
    expect(plugin('prefix-cache-scorer').parameters.prefixMatchInfoProducerName).toBe(nameOf(plugin('approx-prefix-cache-producer')));
    for (const type of ['prefix-cache-scorer', 'queue-scorer', 'kv-cache-utilization-scorer']) expect(weight(type), type).toBeGreaterThan(0);
    expect(plugin('metrics-data-source').parameters.path).toBe('/metrics');
    // The metrics the router's default (vLLM) extractor reads (v0.10.0,
    // pkg/epp/framework/plugins/datalayer/extractor/metrics/factories.go) are Astraea's.
    const metrics = read('lib', 'server', 'metrics.ts');
    for (const name of ['vllm:num_requests_waiting', 'vllm:num_requests_running', 'vllm:kv_cache_usage_perc', 'vllm:cache_config_info']) {
      expect(metrics, name).toContain(`'${name}'`);
    }
  });

  it('the weights are the ones the comments reason about: a session moves only past a 3-point load gap', () => {
    const load = weight('queue-scorer') + weight('kv-cache-utilization-scorer');
    expect(weight('session-affinity-scorer') + weight('prefix-cache-scorer')).toBeGreaterThan(load);
    expect(weight('session-affinity-scorer')).toBeLessThan(load);
  });
});

describe('the Dockerfiles build as package.json and CI do', () => {
  const cpu = dockerStages(read('deploy', 'Dockerfile'));
  const cuda = dockerStages(read('deploy', 'Dockerfile.cuda'));
  const pkg = JSON.parse(read('package.json'));
  const ci = read('.ci', 'run');

  it('build, then a runtime stage on the same Node major as package.json’s engines', () => {
    expect(cpu).toHaveLength(2);
    const major = /(\d+)/.exec(pkg.engines.node)![1];
    for (const stage of cpu) expect(stage[0].args).toMatch(new RegExp(`^node:${major}-`));
  });

  it('runs npm ci as CI does, whose scripts build the addon and dist/ that the runtime copies', () => {
    const runs = args(cpu[0], 'RUN');
    expect(ci).toMatch(/^npm ci$/m);
    expect(runs).toContain('npm ci');
    // npm ci runs the package's "install" (node-gyp: build/Release/astraea.node) and "prepare"
    // (tsc -p tsconfig.json: dist/), so no other build step is needed.
    expect(pkg.scripts.install).toBe('node-gyp rebuild');
    expect(pkg.scripts.prepare).toBe('tsc -p tsconfig.json');
    expect(read('binding.gyp')).toContain('"target_name": "astraea"');
    const copied = args(cpu[1], 'COPY').join('\n');
    expect(copied).toContain('/app/build/Release/astraea.node');
    expect(copied).toContain('/app/dist/lib');
    // The addon load check is CI's, verbatim.
    const check = /^node -e .*native\(\)\.backendInfo\(\).*$/m.exec(ci)![0];
    expect(runs).toContain(check);
    // node-gyp's needs (README.md: a C++17 compiler, Python 3).
    expect(runs.find((r) => r.includes('apt-get install'))).toMatch(/python3 make g\+\+/);
  });

  it('copies into the build every file npm ci needs, and the ignore file keeps none of them out', () => {
    const sources = args(cpu[0], 'COPY').flatMap((a) => a.split(/\s+/).slice(0, -1));
    const tsInclude: string[] = JSON.parse(read('tsconfig.json')).include;
    const needed = ['package.json', 'package-lock.json', 'binding.gyp', 'tsconfig.json', 'cpp', 'bin', ...tsInclude.map((glob) => glob.split('/')[0])];
    for (const path of needed) expect(sources, path).toContain(path);
    for (const path of sources) expect(existsSync(join(ROOT, path)), path).toBe(true);
    const ignored = read('deploy', 'Dockerfile.dockerignore').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'));
    for (const path of sources) expect(ignored, path).not.toContain(path);
  });

  it('the runtime runs `astraea serve` in exec form under tini, so SIGTERM reaches node', () => {
    const entrypoint = execForm(cpu[1], 'ENTRYPOINT');
    expect(entrypoint.slice(0, 4)).toEqual(['/usr/bin/tini', '--', 'node', 'bin/astraea.js']);
    expect(entrypoint[4]).toBe(serveCommand().name());
    expect(parseServe(entrypoint.slice(5)).unknown).toEqual([]);
    expect(parseServe(execForm(cpu[1], 'CMD')).unknown).toEqual([]);
    expect(args(cpu[1], 'RUN').join(' ')).toMatch(/apt-get install .*\btini\b/);
    expect(read('bin', 'astraea.js')).toContain("from '../dist/lib/cli/main.js'");
  });

  it('the CUDA variant is marked unbuilt and adds `npm run build:cuda`, whose output lib/native looks for', () => {
    expect(read('deploy', 'Dockerfile.cuda')).toMatch(/^# UNBUILT AND UNTESTED/);
    expect(args(cuda[0], 'RUN')).toEqual(expect.arrayContaining(['npm ci', 'npm run build:cuda']));
    expect(pkg.scripts['build:cuda']).toBe('cmake-js compile --out build-cuda');
    expect(args(cuda[1], 'COPY').join('\n')).toContain('/app/build-cuda/Release/astraea_cuda.node ./build-cuda/Release/astraea_cuda.node');
    expect(read('lib', 'native', 'index.ts')).toContain("join(packageRoot(), 'build-cuda', 'Release', 'astraea_cuda.node')");
    const sources = args(cuda[0], 'COPY').filter((a) => !a.startsWith('--from')).flatMap((a) => a.split(/\s+/).slice(0, -1));
    for (const path of ['CMakeLists.txt', 'cuda', 'cpp']) expect(sources).toContain(path);
    expect(execForm(cuda[1], 'ENTRYPOINT')).toEqual(execForm(cpu[1], 'ENTRYPOINT'));
  });
});

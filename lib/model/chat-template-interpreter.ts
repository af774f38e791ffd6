/**
 * @huggingface/jinja's interpreter, with the Python Jinja2 behaviour real chat templates rely on
 * and the library (0.5) does not have. transformers renders templates with Python Jinja2, so where
 * the two disagree Python is right:
 *
 * - `select` / `reject` filters, bare (truthiness) or with a test: Llama 3.1's template lists its
 *   built-in tools as `builtin_tools | reject('equalto', 'code_interpreter') | join(", ")`.
 * - `==` / `!=` compare lists and mappings by content, and values with Python's types (1 == 1.0 and
 *   True == 1, but "1" != 1). The library compares containers by identity, which changes Mistral
 *   v0.3's output: it writes `[AVAILABLE_TOOLS]` before every user message that `==` the last one,
 *   so a repeated question gets the tools twice in Python and once in the library.
 *
 * Only the public `evaluate` is overridden; every other node goes to the library unchanged. The
 * render context is set up here rather than by `Template.render` so that `raise_exception` can be
 * ours (the library declares its own and refuses a redefinition).
 */
import * as jinja from '@huggingface/jinja';

/**
 * The library's runtime classes as used here. Its index re-exports them from './runtime' without a
 * file extension, which NodeNext resolution cannot follow, so their published types do not load.
 */
interface Value {
  type: string;
  value: unknown;
  __bool__(): { value: boolean };
}
type Node = { type: string } | undefined;
interface Environment {
  set(name: string, value: unknown): Value;
  readonly tests: ReadonlyMap<string, (...values: Value[]) => boolean>;
}
interface InterpreterInstance {
  run(program: unknown): Value;
  evaluate(statement: Node, environment: Environment): Value;
}
const { Environment, Interpreter } = jinja as unknown as {
  Environment: new () => Environment;
  Interpreter: new (environment: Environment) => InterpreterInstance;
};

/** The parts of the library's AST read here. */
interface NamedNode {
  type: string;
  value?: unknown;
  callee?: NamedNode;
  args?: Node[];
}
interface FilterNode {
  type: 'FilterExpression';
  operand: Node;
  filter: NamedNode;
}
interface BinaryNode {
  type: 'BinaryExpression';
  operator: { value: string };
  left: Node;
  right: Node;
}

/** Runtime values of constants, made the way the library converts render variables. */
const constants = new Environment();
const TRUE = constants.set('true', true);
const FALSE = constants.set('false', false);

class PythonJinjaInterpreter extends Interpreter {
  override evaluate(statement: Node, environment: Environment): Value {
    if (statement?.type === 'FilterExpression') {
      const node = statement as unknown as FilterNode;
      const name = node.filter.type === 'Identifier' ? node.filter.value : node.filter.callee?.value;
      if (name === 'select' || name === 'reject') return this.selectOrReject(node, name === 'select', environment);
    }
    if (statement?.type === 'BinaryExpression') {
      const node = statement as unknown as BinaryNode;
      const op = node.operator.value;
      if (op === '==' || op === '!=') {
        const same = pythonEquals(this.evaluate(node.left, environment), this.evaluate(node.right, environment));
        return same === (op === '==') ? TRUE : FALSE;
      }
    }
    return super.evaluate(statement, environment);
  }

  /** Jinja2's select / reject: keep the items for which the test (default: truthiness) holds / fails. */
  private selectOrReject(node: FilterNode, keep: boolean, environment: Environment): Value {
    const operand = this.evaluate(node.operand, environment);
    if (operand.type !== 'ArrayValue') {
      throw new Error(`${keep ? 'select' : 'reject'} needs a list, got ${operand.type}`);
    }
    const [testName, ...testArgs] = (node.filter.args ?? []).map((arg) => this.evaluate(arg, environment));
    let test: (item: Value) => boolean = (item) => item.__bool__().value;
    if (testName !== undefined) {
      const fn = environment.tests.get(String(testName.value));
      if (!fn) throw new Error(`Unknown test: ${String(testName.value)}`);
      test = (item) => fn(item, ...testArgs);
    }
    const kept = (operand.value as Value[]).filter((item) => test(item) === keep);
    // The items themselves, not copies, as in Jinja2.
    return new (operand.constructor as new (items: Value[]) => Value)(kept);
  }
}

/** Python's `==` on the values a template sees (str, int/float/bool, None, list, dict). */
function pythonEquals(a: Value, b: Value): boolean {
  const numeric = (v: Value) => v.type === 'IntegerValue' || v.type === 'FloatValue' || v.type === 'BooleanValue';
  if (numeric(a) && numeric(b)) return Number(a.value) === Number(b.value);
  if (a.type !== b.type) return false;
  switch (a.type) {
    case 'StringValue':
      return a.value === b.value;
    case 'NullValue':
    case 'UndefinedValue':
      return true;
    case 'ArrayValue': {
      const [x, y] = [a.value as Value[], b.value as Value[]];
      return x.length === y.length && x.every((item, i) => pythonEquals(item, y[i]));
    }
    case 'ObjectValue': {
      const [x, y] = [a.value as Map<string, Value>, b.value as Map<string, Value>];
      if (x.size !== y.size) return false;
      for (const [key, item] of x) {
        const other = y.get(key);
        if (other === undefined || !pythonEquals(item, other)) return false;
      }
      return true;
    }
    default:
      // Functions, namespaces: only themselves.
      return a === b;
  }
}

/** The globals transformers' environment gives every template, besides the caller's variables. */
const PYTHON_GLOBALS: Record<string, unknown> = {
  true: true,
  false: false,
  none: null,
  True: true,
  False: false,
  None: null,
  range: pythonRange,
  strftime_now: strftimeNow,
};

/** Renders a parsed template; `variables` may override a global (transformers' do too). */
export function renderParsed(template: jinja.Template, variables: Record<string, unknown>): string {
  const environment = new Environment();
  for (const [name, value] of Object.entries({ ...PYTHON_GLOBALS, ...variables })) environment.set(name, value);
  const result = new PythonJinjaInterpreter(environment).run(template.parsed);
  return result.value as string;
}

function pythonRange(start: number, stop?: number, step = 1): number[] {
  if (stop === undefined) [start, stop] = [0, start];
  if (step === 0) throw new Error('range() arg 3 must not be zero');
  const out: number[] = [];
  for (let i = start; step > 0 ? i < stop : i > stop; i += step) out.push(i);
  return out;
}

const MONTHS = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'];

/**
 * transformers' `strftime_now(format)`: the local time through Python's strftime, in the C locale
 * (English month names). Llama 3.2+ templates write "Today Date" with `%d %b %Y`.
 */
function strftimeNow(format: string): string {
  const now = new Date();
  const pad = (n: number) => String(n).padStart(2, '0');
  const fields: Record<string, string> = {
    Y: String(now.getFullYear()),
    m: pad(now.getMonth() + 1),
    d: pad(now.getDate()),
    b: MONTHS[now.getMonth()].slice(0, 3),
    B: MONTHS[now.getMonth()],
    H: pad(now.getHours()),
    M: pad(now.getMinutes()),
    S: pad(now.getSeconds()),
    '%': '%',
  };
  return String(format).replace(/%(.)/g, (token, code: string) => fields[code] ?? token);
}

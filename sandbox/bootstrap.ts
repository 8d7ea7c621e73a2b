// The code that runs first inside every fresh isolate, before any agent code: it builds `ctx` and `console` out of
// two plain functions that cross to the sandbox's main thread, and keeps everything else in its own closure.
//
// Why it is written this way (DESIGN §5):
// - It is strict code, so V8 never hands its functions or receivers to `Error.prepareStackTrace` call sites, and
//   `fn.caller` never leads back into it.
// - It captures the intrinsics it uses (JSON, Error, Promise, String.prototype.slice, …) before the agent runs,
//   and never looks a method up on a shared prototype afterwards, so monkeypatching globals or prototypes cannot
//   intercept it. Internal tables have null prototypes for the same reason.
// - Arguments are copied exactly once, with the captured JSON.stringify, before anything looks at them: getters,
//   proxies and toJSON run once, and only the resulting string crosses. Results come back as JSON strings and
//   are parsed here, so everything the agent receives is built from this isolate's own intrinsics.
// - The functions it is given ($0, $1) and the values it returns to the main thread stay in this closure:
//   nothing is put on the global object except `console`, whose methods only close over them.

/** Limits passed to the bootstrap as $2..$5, in this order. */
export interface BootstrapLimits {
  readonly maxArgChars: number;
  readonly maxLogLines: number;
  readonly maxLogChars: number;
  /** Tool calls sent to the host at once per run; further calls queue inside the isolate. */
  readonly maxInflight: number;
}

/**
 * Arguments, in order: $0 sendCall(id, tool, argsJson, reason), $1 sendLog(level, source, message) — both return
 * nothing and never throw into the isolate — then the limits. Returns `{ run, deliver }`:
 * - run(namespace, task) → Promise<string>: JSON of the outcome (see `IsolateResult` in agentRun.ts).
 * - deliver(id, ok, payload): settles tool call `id`; payload is the result's JSON (ok) or the error message.
 */
export const bootstrapSource = String.raw`
'use strict';
const sendCall = $0;
const sendLog = $1;
const maxArgChars = $2;
const maxLogLines = $3;
const maxLogChars = $4;
const maxInflight = $5;

const G = globalThis;
const freeze = Object.freeze;
const defineProperty = Object.defineProperty;
const create = Object.create;
const stringify = JSON.stringify;
const parse = JSON.parse;
const ErrorCtor = Error;
const TypeErrorCtor = TypeError;
const PromiseCtor = Promise;
const StringCtor = String;
const reflectApply = Reflect.apply;
const sliceString = String.prototype.slice;

// WebAssembly memory is allocated outside the isolate heap, where memoryLimit does not see it.
delete G.WebAssembly;

function clip(text, max) {
  return text.length > max ? reflectApply(sliceString, text, [0, max]) + '… (' + (text.length - max) + ' more characters)' : text;
}

// Formatting runs here, on agent values, so getters and toString run inside the isolate's limits.
function show(v) {
  switch (typeof v) {
    case 'string': return v;
    case 'undefined': return 'undefined';
    case 'function': return '[Function]';
    case 'bigint': return StringCtor(v) + 'n';
    case 'number': case 'boolean': case 'symbol': return StringCtor(v);
  }
  if (v === null) return 'null';
  try {
    const stack = v.stack;
    if (typeof stack === 'string') return stack;
  } catch (e) { /* fall through */ }
  try {
    const json = stringify(v);
    if (typeof json === 'string') return json;
  } catch (e) { /* fall through */ }
  try {
    const text = StringCtor(v);
    if (typeof text === 'string') return text;
  } catch (e) { /* fall through */ }
  return '[a value that cannot be shown]';
}

function format(args) {
  let out = '';
  for (let i = 0; i < args.length; i++) {
    if (i > 0) out += ' ';
    out += show(args[i]);
    if (out.length > maxLogChars) break;
  }
  return clip(out, maxLogChars);
}

let logLines = 0;
let logDropped = 0;
function emit(level, source, args) {
  if (logLines < maxLogLines) {
    logLines++;
    sendLog(level, source, format(args));
    return;
  }
  // One line past the cap tells the main thread the cap was reached; the rest are only counted.
  if (logDropped === 0) sendLog(level, source, '');
  logDropped++;
}

function frozenFn(fn) { return freeze(fn); }
const consoleObject = freeze({
  log: frozenFn((...args) => emit('log', 'console', args)),
  info: frozenFn((...args) => emit('info', 'console', args)),
  warn: frozenFn((...args) => emit('warn', 'console', args)),
  error: frozenFn((...args) => emit('error', 'console', args)),
  debug: frozenFn((...args) => emit('debug', 'console', args)),
  trace: frozenFn((...args) => emit('debug', 'console', args)),
  dir: frozenFn((...args) => emit('log', 'console', args)),
});
defineProperty(G, 'console', { value: consoleObject, writable: true, enumerable: false, configurable: true });

function describe(e) {
  if (e === null || (typeof e !== 'object' && typeof e !== 'function')) return show(e);
  let name;
  let message;
  try { name = e.name; message = e.message; } catch (x) { /* not an error-like value */ }
  if (typeof message === 'string') return (typeof name === 'string' && name !== '' ? name : 'Error') + ': ' + message;
  return show(e);
}

function rejected(error) {
  return new PromiseCtor((resolve, reject) => reject(error));
}

// ---- tool calls ----
let pendingReason;
let nextId = 1;
let inflight = 0;
const pending = create(null);
const queue = create(null);
let queueHead = 0;
let queueTail = 0;

function pump() {
  while (inflight < maxInflight && queueHead < queueTail) {
    const item = queue[queueHead];
    delete queue[queueHead];
    queueHead++;
    inflight++;
    sendCall(item.id, item.tool, item.json, item.reason);
  }
}

function callTool(tool, args) {
  let json;
  try {
    json = stringify(args);
  } catch (e) {
    return rejected(new TypeErrorCtor(tool + ': the arguments cannot be copied as JSON (' + clip(describe(e), 500) + ')'));
  }
  if (typeof json !== 'string') return rejected(new TypeErrorCtor(tool + ': the arguments must be JSON data'));
  if (json.length > maxArgChars) {
    return rejected(new ErrorCtor(tool + ': the arguments are ' + json.length + ' characters of JSON, over the limit of ' + maxArgChars));
  }
  const reason = pendingReason;
  pendingReason = undefined;
  const id = nextId++;
  return new PromiseCtor((resolve, reject) => {
    pending[id] = { __proto__: null, resolve, reject };
    queue[queueTail++] = { __proto__: null, id, tool, json, reason };
    pump();
  });
}

function deliver(id, ok, payload) {
  const p = pending[id];
  if (p === undefined) return;
  delete pending[id];
  inflight--;
  if (ok !== true) {
    p.reject(new ErrorCtor(typeof payload === 'string' ? payload : 'the tool call failed'));
  } else if (payload === undefined) {
    p.resolve(undefined);
  } else {
    let value;
    let failed = false;
    try { value = parse(payload); } catch (e) { failed = true; }
    if (failed) p.reject(new ErrorCtor('the tool result could not be read'));
    else p.resolve(value);
  }
  pump();
}

function option(options, key) {
  return options === undefined || options === null ? undefined : options[key];
}

function makeCtx(task) {
  const fs = freeze({
    read: frozenFn((path) => callTool('fs.read', { __proto__: null, path })),
    write: frozenFn((path, content) => callTool('fs.write', { __proto__: null, path, content })),
    delete: frozenFn((path) => callTool('fs.delete', { __proto__: null, path })),
    list: frozenFn((path) => callTool('fs.list', { __proto__: null, path })),
    search: frozenFn((pattern, options) => callTool('fs.search', { __proto__: null, pattern, glob: option(options, 'glob') })),
  });
  const net = freeze({
    fetch: frozenFn((url, init) => callTool('net.fetch', {
      __proto__: null, url, method: option(init, 'method'), headers: option(init, 'headers'), body: option(init, 'body'),
    })),
  });
  const tools = freeze({
    call: frozenFn((name, args) => {
      if (typeof name !== 'string' || name === '') return rejected(new TypeErrorCtor('ctx.tools.call: the tool name must be a non-empty string'));
      return callTool(name, args === undefined ? { __proto__: null } : args);
    }),
  });
  return freeze({
    task,
    reason: frozenFn((text) => {
      pendingReason = clip(typeof text === 'string' ? text : StringCtor(text), maxArgChars);
    }),
    fs,
    net,
    tools,
    escalate: frozenFn((question) => callTool('agent.escalate', { __proto__: null, question })),
    log: frozenFn((...args) => emit('info', 'ctx', args)),
  });
}

// ---- the run ----
function failed(kind, message, stack) {
  return stringify({ __proto__: null, status: 'failed', kind, message: clip(message, maxLogChars), stack, logLinesDropped: logDropped });
}

function describeThrown(e) {
  if (e === null || e === undefined) return 'the agent threw ' + e;
  const type = typeof e;
  if (type !== 'object' && type !== 'function') return 'the agent threw a ' + type + ': ' + show(e);
  let name;
  let message;
  try { name = e.name; message = e.message; } catch (x) { /* not an error-like value */ }
  if (typeof message === 'string') return (typeof name === 'string' && name !== '' ? name : 'Error') + ': ' + message;
  let text;
  try { text = StringCtor(e); } catch (x) { /* no usable toString */ }
  if (typeof text === 'string' && text !== '[object Object]') return 'the agent threw a non-Error value: ' + text;
  try {
    const json = stringify(e);
    if (typeof json === 'string') return 'the agent threw a non-Error value: ' + json;
  } catch (x) { /* not JSON either */ }
  return 'the agent threw a non-Error value that cannot be shown';
}

function stackOf(e) {
  try {
    const stack = e !== null && typeof e === 'object' ? e.stack : undefined;
    return typeof stack === 'string' ? clip(stack, 4000) : undefined;
  } catch (x) {
    return undefined;
  }
}

async function run(namespace, task) {
  let fn;
  try {
    fn = namespace.default;
  } catch (e) {
    return failed('invalid-agent', 'the default export cannot be read (' + describe(e) + ')');
  }
  if (typeof fn !== 'function') {
    return failed('invalid-agent', 'the module has no default export function: write "export default async function agent(ctx) { … }"');
  }
  const ctx = makeCtx(task);
  let value;
  try {
    value = await fn(ctx);
  } catch (e) {
    return failed('threw', describeThrown(e), stackOf(e));
  }
  let json;
  try {
    json = stringify(value);
  } catch (e) {
    return failed('threw', 'the agent returned a value that is not JSON data (' + describe(e) + ')');
  }
  if (typeof json === 'string' && json.length > maxArgChars) {
    return failed('threw', 'the agent returned ' + json.length + ' characters of JSON, over the limit of ' + maxArgChars);
  }
  return stringify({ __proto__: null, status: 'completed', resultJson: json, logLinesDropped: logDropped });
}

return { __proto__: null, run, deliver };
`;

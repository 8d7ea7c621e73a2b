// Exports of the audit log: JSON Lines (one DESIGN §4.4 event per line), CSV for spreadsheets, and OTLP JSON
// traces following the OpenTelemetry GenAI conventions (a span per run, a child span per tool call).
import { createHash } from 'node:crypto';
import type { AuditEvent } from '../../protocol/auditEvent';

export const exportFormats = ['jsonl', 'csv', 'otlp'] as const;
export type ExportFormat = (typeof exportFormats)[number];

type Write = (chunk: string) => void | Promise<void>;

export async function exportEvents(format: ExportFormat, events: AsyncIterable<AuditEvent>, write: Write): Promise<number> {
  switch (format) {
    case 'jsonl':
      return writeJsonl(events, write);
    case 'csv':
      return writeCsv(events, write);
    case 'otlp':
      return writeOtlp(events, write);
  }
}

async function writeJsonl(events: AsyncIterable<AuditEvent>, write: Write): Promise<number> {
  let n = 0;
  let chunk = '';
  for await (const e of events) {
    chunk += `${JSON.stringify(e)}\n`;
    if (++n % 500 === 0) {
      await write(chunk);
      chunk = '';
    }
  }
  if (chunk) await write(chunk);
  return n;
}

const CSV_COLUMNS = ['seq', 'ts', 'runId', 'agent', 'type', 'tool', 'decision', 'level', 'rule', 'actor', 'reason', 'durationMs', 'costUsd', 'args', 'result', 'prevHash', 'hash'] as const;

/** RFC 4180 quoting; a cell a spreadsheet would run as a formula (=, +, -, @) gets a leading apostrophe. */
export function csvCell(v: unknown): string {
  if (v === undefined || v === null) return '';
  let s = typeof v === 'string' ? v : typeof v === 'number' ? String(v) : JSON.stringify(v);
  if (typeof v === 'string' && /^[=+\-@\t\r]/.test(s)) s = `'${s}`;
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

async function writeCsv(events: AsyncIterable<AuditEvent>, write: Write): Promise<number> {
  let n = 0;
  let chunk = `${CSV_COLUMNS.join(',')}\r\n`;
  for await (const e of events) {
    chunk += `${CSV_COLUMNS.map((c) => csvCell((e as Record<string, unknown>)[c])).join(',')}\r\n`;
    if (++n % 500 === 0) {
      await write(chunk);
      chunk = '';
    }
  }
  if (chunk) await write(chunk);
  return n;
}

// ------------------------------------------------------------------ OTLP

type AnyValue = { stringValue: string } | { intValue: string } | { doubleValue: number } | { boolValue: boolean };
interface KeyValue {
  key: string;
  value: AnyValue;
}
interface OtlpSpanEvent {
  timeUnixNano: string;
  name: string;
  attributes: KeyValue[];
}
interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  startTimeUnixNano: string;
  endTimeUnixNano: string;
  attributes: KeyValue[];
  events?: OtlpSpanEvent[];
  status?: { code: number; message?: string };
}

const SPAN_KIND_INTERNAL = 1;
const STATUS_OK = 1;
const STATUS_ERROR = 2;

function attr(key: string, v: unknown): KeyValue | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') return { key, value: { stringValue: v } };
  if (typeof v === 'boolean') return { key, value: { boolValue: v } };
  if (typeof v === 'number') return Number.isInteger(v) ? { key, value: { intValue: String(v) } } : { key, value: { doubleValue: v } };
  return { key, value: { stringValue: JSON.stringify(v) } };
}

function attrs(pairs: Array<[string, unknown]>): KeyValue[] {
  return pairs.map(([k, v]) => attr(k, v)).filter((x): x is KeyValue => x !== undefined);
}

function hexId(text: string, hexChars: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, hexChars);
}

function nanos(iso: string, minusMs = 0): string {
  const ms = Date.parse(iso);
  if (Number.isNaN(ms)) return '0';
  return (BigInt(Math.round((ms - minusMs) * 1000)) * 1000n).toString();
}

const DENIED = new Set(['deny', 'rejected', 'halt']);

/** The attributes every Airlock span or span event carries, beside the GenAI ones. */
function airlockAttrs(e: AuditEvent): Array<[string, unknown]> {
  return [
    ['airlock.seq', e.seq],
    ['airlock.event.type', e.type],
    ['airlock.decision', e.decision],
    ['airlock.level', e.level],
    ['airlock.rule', e.rule],
    ['airlock.actor', e.actor],
    ['airlock.reason', e.reason],
    ['airlock.cost_usd', e.costUsd],
    ['airlock.prev_hash', e.prevHash],
    ['airlock.hash', e.hash],
  ];
}

interface RunState {
  traceId: string;
  spanId: string;
  runId: string;
  agent: string;
  start?: string;
  end?: string;
  first: string;
  last: string;
  status?: string;
  reason?: string;
  events: OtlpSpanEvent[];
}

/**
 * OTLP/HTTP JSON (`ExportTraceServiceRequest`): one `invoke_agent` span per run, one `execute_tool` child span
 * per tool call, and the run's other events (start, decisions, approvals, alerts, logs, end) as span events.
 * Trace and span ids are derived from the run id and seq, so exporting twice gives the same ids.
 */
async function writeOtlp(events: AsyncIterable<AuditEvent>, write: Write): Promise<number> {
  const runs = new Map<string, RunState>();
  let n = 0;
  let first = true;
  await write(
    `{"resourceSpans":[{"resource":{"attributes":${JSON.stringify(attrs([['service.name', 'agent-airlock']]))}},"scopeSpans":[{"scope":{"name":"agent-airlock.audit","version":"1"},"spans":[\n`,
  );
  const emit = async (span: OtlpSpan) => {
    await write(`${first ? '' : ',\n'}${JSON.stringify(span)}`);
    first = false;
  };
  const runSpan = (r: RunState): OtlpSpan => ({
    traceId: r.traceId,
    spanId: r.spanId,
    name: `invoke_agent ${r.agent}`,
    kind: SPAN_KIND_INTERNAL,
    startTimeUnixNano: nanos(r.start ?? r.first),
    endTimeUnixNano: nanos(r.end ?? r.last),
    attributes: attrs([
      ['gen_ai.operation.name', 'invoke_agent'],
      ['gen_ai.agent.name', r.agent],
      ['gen_ai.agent.id', r.agent],
      ['gen_ai.conversation.id', r.runId],
      ['airlock.run.id', r.runId],
      ['airlock.run.status', r.status ?? (r.start ? 'running' : 'unknown')],
    ]),
    events: r.events,
    status: r.status === undefined ? { code: 0 } : r.status === 'completed' ? { code: STATUS_OK } : { code: STATUS_ERROR, message: r.reason ?? r.status },
  });
  const ended = new Map<string, { traceId: string; spanId: string }>();
  for await (const e of events) {
    n++;
    const done = ended.get(e.runId);
    if (done) {
      // After run.end (an apply or rollback of its changes): a child span of its own, the run span being out.
      await emit({
        traceId: done.traceId,
        spanId: hexId(`airlock-event:${e.runId}:${e.seq}`, 16),
        parentSpanId: done.spanId,
        name: `airlock.${e.type}`,
        kind: SPAN_KIND_INTERNAL,
        startTimeUnixNano: nanos(e.ts, e.durationMs ?? 0),
        endTimeUnixNano: nanos(e.ts),
        attributes: attrs([['gen_ai.tool.name', e.tool], ['airlock.args', e.args], ['airlock.result', e.result], ...airlockAttrs(e)]),
      });
      continue;
    }
    let r = runs.get(e.runId);
    if (!r) {
      r = { traceId: hexId(`airlock-trace:${e.runId}`, 32), spanId: hexId(`airlock-run:${e.runId}`, 16), runId: e.runId, agent: e.agent, first: e.ts, last: e.ts, events: [] };
      runs.set(e.runId, r);
    }
    r.last = e.ts;
    if (e.type === 'tool.call') {
      const denied = e.decision !== undefined && DENIED.has(e.decision);
      await emit({
        traceId: r.traceId,
        spanId: hexId(`airlock-call:${e.runId}:${e.seq}`, 16),
        parentSpanId: r.spanId,
        name: `execute_tool ${e.tool ?? 'unknown'}`,
        kind: SPAN_KIND_INTERNAL,
        startTimeUnixNano: nanos(e.ts, e.durationMs ?? 0),
        endTimeUnixNano: nanos(e.ts),
        attributes: attrs([
          ['gen_ai.operation.name', 'execute_tool'],
          ['gen_ai.tool.name', e.tool],
          ['gen_ai.tool.type', 'function'],
          ['gen_ai.tool.call.id', `${e.runId}:${e.seq}`],
          ['gen_ai.tool.call.arguments', e.args],
          ['gen_ai.tool.call.result', e.result],
          ['gen_ai.agent.name', e.agent],
          ['gen_ai.conversation.id', e.runId],
          ['error.type', denied ? `airlock.${e.decision}` : undefined],
          ...airlockAttrs(e),
        ]),
        status: denied ? { code: STATUS_ERROR, message: e.reason ?? `${e.decision} by ${e.rule ?? e.actor ?? 'policy'}` } : { code: STATUS_OK },
      });
      continue;
    }
    r.events.push({ timeUnixNano: nanos(e.ts), name: `airlock.${e.type}`, attributes: attrs([['gen_ai.tool.name', e.tool], ['airlock.args', e.args], ['airlock.result', e.result], ...airlockAttrs(e)]) });
    if (e.type === 'run.start') r.start = e.ts;
    if (e.type === 'run.end') {
      r.end = e.ts;
      const s = (e.result as { status?: unknown } | undefined)?.status;
      r.status = typeof s === 'string' ? s : e.decision === 'halt' ? 'halted' : 'completed';
      r.reason = e.reason;
      await emit(runSpan(r));
      runs.delete(e.runId);
      ended.set(e.runId, { traceId: r.traceId, spanId: r.spanId });
    }
  }
  // Runs without a run.end (still running, or cut short) are exported as they stand, status unset.
  for (const r of runs.values()) await emit(runSpan(r));
  await write('\n]}]}]}\n');
  return n;
}

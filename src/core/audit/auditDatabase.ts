// The queryable copy of the audit log: a sql.js database folded from the journal in batches and written out
// whole (temp file + rename) only now and then. Each row keeps the event's canonical text exactly as it was
// hashed (`body`) and its hash; the other columns are derived from the body for the indexes.
import initSqlJs from 'sql.js';
import type { Database, SqlJsStatic, SqlValue, Statement } from 'sql.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ApprovalLevel, AuditEvent, AuditEventType, Decision } from '../../protocol/auditEvent';
import { AuditError } from './auditError';
import type { StoredEvent } from './auditJournal';
import { asList } from './auditQuery';
import type { AuditPage, AuditQuery, RunDetail, RunStatus, RunSummary, RunsQuery } from './auditQuery';
import type { ChainChunk, ChainLocation, ChainVerifier } from './hashChain';
import { addBits, addEventText, blockMayContain, blockOf, blockRange, covers, TEXT_BLOCK_BITS, termBits } from './textIndex';

export const DATABASE_FILE = 'audit.sqlite';
/**
 * Bumped when the tables change; a database from a newer version is refused, never rewritten. Version 2 replaced
 * version 1's three indexes on type, decision and level by one on the three (see KIND_INDEX).
 */
export const SCHEMA_VERSION = 2;
/** "ARLK" in the SQLite header's application_id, so a stray SQLite file is not mistaken for an audit log. */
export const APPLICATION_ID = 0x41524c4b;

// Fixed codes, not array positions: the protocol's enums may grow or be reordered without breaking old files.
const TYPE_CODES: Record<AuditEventType, number> = { 'run.start': 1, 'tool.call': 2, decision: 3, approval: 4, apply: 5, rollback: 6, alert: 7, 'run.end': 8, log: 9 };
const DECISION_CODES: Record<Decision, number> = { allow: 1, deny: 2, stage: 3, pending: 4, approved: 5, rejected: 6, halt: 7 };
const LEVEL_CODES: Record<ApprovalLevel, number> = { auto: 1, review: 2, require: 3, deny: 4 };
const TYPE_NAMES = invert(TYPE_CODES);
const DECISION_NAMES = invert(DECISION_CODES);
const TYPE_CODE = new Map<unknown, number>(Object.entries(TYPE_CODES));
const DECISION_CODE = new Map<unknown, number>(Object.entries(DECISION_CODES));
const LEVEL_CODE = new Map<unknown, number>(Object.entries(LEVEL_CODES));

function invert<K extends string>(o: Record<K, number>): Map<number, K> {
  return new Map(Object.entries(o).map(([k, v]) => [v as number, k as K]));
}

/**
 * Type, decision and level take few values each: one index on the three costs each insert about what one of them
 * alone did (three cost ~5 µs of a fold's ~24 per event). A filter on any of them reads one stream of the index per
 * combination of the three that occurs and matches (counted in value_counts as dim 'kind'), each in seq order, merged.
 */
const KIND_INDEX = 'events_kind';
const KIND_INDEX_SQL = `CREATE INDEX ${KIND_INDEX} ON events(type, decision, level)`;
/** Version 1's indexes in its place, as it created them (a version 1 file is changed at its first insert). */
const V1_KIND_COLUMNS = ['type', 'decision', 'level'] as const;
const V1_INDEXES = V1_KIND_COLUMNS.map((c) => `CREATE INDEX events_${c} ON events(${c})`);
/** The value_counts key of a combination of type, decision and level (codes; '' for none). */
const kindKey = (type: SqlValue, decision: SqlValue, level: SqlValue) => `${type}:${decision ?? ''}:${level ?? ''}`;

const SCHEMA = `
PRAGMA application_id = ${APPLICATION_ID};
PRAGMA user_version = ${SCHEMA_VERSION};
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE runs (
  id INTEGER PRIMARY KEY, run_id TEXT NOT NULL UNIQUE, agent TEXT NOT NULL, status TEXT NOT NULL, reason TEXT,
  started_at TEXT, ended_at TEXT, first_seq INTEGER NOT NULL, last_seq INTEGER NOT NULL, last_at TEXT NOT NULL,
  events INTEGER NOT NULL, tool_calls INTEGER NOT NULL, denied INTEGER NOT NULL, pending INTEGER NOT NULL,
  approvals INTEGER NOT NULL, alerts INTEGER NOT NULL, cost_usd REAL NOT NULL);
CREATE TABLE value_counts (dim TEXT NOT NULL, value TEXT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (dim, value)) WITHOUT ROWID;
CREATE TABLE events (
  seq INTEGER PRIMARY KEY, run INTEGER NOT NULL, agent TEXT NOT NULL, type INTEGER NOT NULL,
  tool TEXT, decision INTEGER, level INTEGER, body TEXT NOT NULL, hash BLOB NOT NULL);
CREATE INDEX events_run ON events(run);
CREATE INDEX events_agent ON events(agent);
CREATE INDEX events_tool ON events(tool);
${KIND_INDEX_SQL};
CREATE TABLE text_blocks (block INTEGER PRIMARY KEY, bits BLOB NOT NULL);
`;

/** Added after the first release; created when a database without it is loaded (its bits are then filled in). */
const TEXT_BLOCKS_TABLE = 'CREATE TABLE IF NOT EXISTS text_blocks (block INTEGER PRIMARY KEY, bits BLOB NOT NULL)';

// The rollback journal is useless here: durability comes from our own journal and the atomic rename.
// secure_delete zeroes freed space, so the file never keeps stale copies of rows moved by page splits.
const CONNECTION_PRAGMAS = 'PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF; PRAGMA temp_store = MEMORY; PRAGMA cache_size = -32768; PRAGMA secure_delete = ON;';

let sqlJs: Promise<SqlJsStatic> | undefined;

/** sql.js, with its .wasm found next to the bundle (dist/) or in node_modules. */
export function loadSqlJs(): Promise<SqlJsStatic> {
  sqlJs ??= initSqlJs({
    locateFile: (file: string) => {
      const beside = join(__dirname, file);
      if (existsSync(beside)) return beside;
      return require.resolve(`sql.js/dist/${file}`);
    },
  });
  return sqlJs;
}

type Dim = 'run' | 'agent' | 'type' | 'tool' | 'decision' | 'level';
/** A query's filter on one column: any of `values`. */
interface Cond {
  readonly dim: Dim;
  readonly values: ReadonlyArray<string | number>;
}
/** An index to read a page from: `match` (with each stream's values bound) selects one stream of it. */
interface Driver {
  readonly covers: readonly Cond[];
  readonly index: string;
  readonly match: string;
  readonly streams: ReadonlyArray<readonly SqlValue[]>;
  readonly estimate: number;
}
const KIND_DIMS: ReadonlySet<Dim> = new Set(['type', 'decision', 'level']);
const KIND_PREFIX = 'kind\u0000';

const PUT_COUNT = 'INSERT OR REPLACE INTO value_counts (dim, value, n) VALUES (?, ?, ?)';

/** Rows per INSERT statement: one statement for many rows saves most of sql.js's per-call overhead. */
const INSERT_ROWS = 64;

function insertSql(rows: number): string {
  return `INSERT INTO events (seq, run, agent, type, tool, decision, level, body, hash) VALUES ${Array.from({ length: rows }, () => '(?, ?, ?, ?, ?, ?, ?, CAST(? AS TEXT), ?)').join(', ')}`;
}

interface RunRow {
  id: number;
  runId: string;
  agent: string;
  status: RunStatus;
  reason: string | undefined;
  startedAt: string | undefined;
  endedAt: string | undefined;
  firstSeq: number;
  lastSeq: number;
  lastAt: string;
  events: number;
  toolCalls: number;
  denied: number;
  pending: number;
  approvals: number;
  alerts: number;
  costUsd: number;
}

/**
 * What folding an event into the database takes from it besides its text and hash: the indexed columns (as stored)
 * and what the run summaries count. The appending thread works them out from the event objects it has, so the
 * worker folding fed events never parses their text (WriteOutThread.feed).
 */
export type FoldFacts = readonly [
  runId: string,
  agent: string,
  ts: string,
  type: number,
  tool: string | null,
  decision: number | null,
  level: number | null,
  costUsd: number | null,
  /** For a run.end event, the run's status and reason. */
  endStatus: RunStatus | null,
  endReason: string | null,
];

/**
 * The facts of an event, the same whether taken from the object that was serialised or from its text parsed back:
 * only top-level strings and a finite number are read (a non-finite cost is written as null).
 */
export function foldFacts(e: Partial<AuditEvent>): FoldFacts {
  const end = e.type === 'run.end';
  return [
    String(e.runId ?? ''),
    String(e.agent ?? ''),
    String(e.ts ?? ''),
    TYPE_CODE.get(e.type) ?? 0,
    typeof e.tool === 'string' ? e.tool : null,
    e.decision !== undefined ? (DECISION_CODE.get(e.decision) ?? 0) : null,
    e.level !== undefined ? (LEVEL_CODE.get(e.level) ?? 0) : null,
    typeof e.costUsd === 'number' && Number.isFinite(e.costUsd) ? e.costUsd : null,
    end ? runEndStatus(e) : null,
    end ? (e.reason ?? null) : null,
  ];
}

/** An event as the database takes it in: its text (or that text's UTF-8 bytes), its hash and its facts. */
export interface FoldRecord {
  readonly seq: number;
  readonly hash: string;
  readonly body: string | Uint8Array;
  readonly facts: FoldFacts;
}

/**
 * The text search bits of these events (textIndex.ts), per block. They come from each event as a search parses its
 * stored text: the object itself when it is exactly that (`exact`), else the text parsed again.
 */
export function searchBits(records: readonly StoredEvent[]): Map<number, Uint8Array> {
  const bits = new Map<number, Uint8Array>();
  for (const r of records) {
    const block = blockOf(r.seq);
    let b = bits.get(block);
    if (!b) bits.set(block, (b = new Uint8Array(TEXT_BLOCK_BITS / 8)));
    addEventText(b, (r.exact ? r.event : JSON.parse(r.body)) as Partial<AuditEvent>);
  }
  return bits;
}

/** What the 100-byte SQLite header says, read without loading the file. */
export function inspectDatabaseHeader(head: Uint8Array, fileSize: number): { problem?: string; userVersion: number; applicationId: number; sizeInHeader?: boolean } {
  const text = Buffer.from(head.buffer, head.byteOffset, Math.min(16, head.length)).toString('latin1');
  if (head.length < 100 || text !== 'SQLite format 3\u0000') return { problem: 'it is not an SQLite database (bad header)', userVersion: 0, applicationId: 0 };
  const view = new DataView(head.buffer, head.byteOffset, head.length);
  const raw = view.getUint16(16);
  const pageSize = raw === 1 ? 65536 : raw;
  const pages = view.getUint32(28);
  const validFor = view.getUint32(92);
  const changes = view.getUint32(24);
  const userVersion = view.getUint32(60);
  const applicationId = view.getUint32(68);
  if (pageSize < 512 || (pageSize & (pageSize - 1)) !== 0) return { problem: 'its page size is invalid', userVersion, applicationId };
  if (validFor === changes && pages * pageSize !== fileSize) return { problem: `it is ${fileSize} bytes long where its header says ${pages * pageSize} (truncated or padded)`, userVersion, applicationId };
  // SQLite takes the database's size from the header when it is valid (valid-for = change counter), else from the file's.
  return { userVersion, applicationId, sizeInHeader: validFor === changes && pages > 0 };
}

type SchemaEntry = [string, string, string, string | null];
let schemaEntries: Promise<SchemaEntry[][]> | undefined;

/**
 * sqlite_schema as this version creates it (type, name, tbl_name, sql), as version 1 did, and as the first release
 * did (version 1 before text_blocks), to recognise a file laid out the same.
 */
export function knownSchemas(): Promise<SchemaEntry[][]> {
  schemaEntries ??= (async () => {
    const db = new (await loadSqlJs()).Database();
    try {
      const entries = () => (db.exec('SELECT type, name, tbl_name, sql FROM sqlite_schema')[0]?.values ?? []).map((r): SchemaEntry => [String(r[0]), String(r[1]), String(r[2]), r[3] === null ? null : String(r[3])]);
      db.exec(SCHEMA);
      const current = entries();
      db.exec(`DROP INDEX ${KIND_INDEX}; ${V1_INDEXES.join('; ')}`);
      const v1 = entries();
      return [current, v1, v1.filter((e) => e[2] !== 'text_blocks')];
    } finally {
      db.close();
    }
  })();
  return schemaEntries;
}

const QUICK_CHECK_MAX_BYTES = 16 * 1024 * 1024;
/** Rows per chunk when verifying (about 2.5 MB). */
const VERIFY_CHUNK = 4000;

/** SQLite's report of a damaged file. sql.js gives its errors no code, only SQLite's own message. */
export function isCorruptionError(e: unknown): boolean {
  return e instanceof Error && /database disk image is malformed|file is not a database|SQLITE_CORRUPT|SQLITE_NOTADB/i.test(e.message);
}

export class AuditDatabase {
  private readonly stmts = new Map<string, Statement>();
  private readonly runsById = new Map<string, RunRow>();
  private readonly runsByNum = new Map<number, RunRow>();
  private readonly counts = new Map<string, number>();
  private nextRunId = 1;
  private max = 0;
  /** Text search bits per block (textIndex.ts), as far as loaded; events up to `textSeq` are in them. */
  private readonly textBits = new Map<number, Uint8Array>();
  private textAllLoaded = false;
  private textSeq = 0;

  /** The bytes sql.js's in-memory file held when loaded (the file and the room after it). */
  private capacity = 0;
  /** Whether type, decision and level have one index (version 2), not one each (version 1, until its first insert). */
  private kindIndex = true;

  private constructor(private readonly db: Database) {}

  /** The database file's size as it would be exported now. */
  sizeBytes(): number {
    const [pages, pageSize] = this.db.exec('PRAGMA page_count; PRAGMA page_size').map((r) => Number(r.values[0]?.[0]));
    return pages! * pageSize!;
  }

  /** Room left to grow into before sql.js's in-memory file has to grow (see fromBytes); ≤ 0 when none. */
  spareBytes(): number {
    return this.capacity - this.sizeBytes();
  }

  static async create(): Promise<AuditDatabase> {
    const SQL = await loadSqlJs();
    const db = new SQL.Database();
    db.exec(CONNECTION_PRAGMAS + SCHEMA);
    return new AuditDatabase(db);
  }

  /**
   * Opens an exported database. Throws `newer-schema` (nothing is written) or `corrupt`. `check` runs SQLite's
   * structural check on small files (verify skips it: it reads every row anyway). With `fileSize`, `bytes` holds the
   * file in its first `fileSize` bytes and zeros after it: room for the database to grow into in memory. sql.js's
   * in-memory file otherwise grows by 12.5% at a time, copying itself whole each time (the room is used where SQLite
   * takes the database's size from the header, which it does for every file it wrote).
   */
  static async fromBytes(bytes: Uint8Array, label: string, options: { check?: boolean; fileSize?: number } = {}): Promise<AuditDatabase> {
    const fileSize = options.fileSize ?? bytes.length;
    const header = inspectDatabaseHeader(bytes.subarray(0, 100), fileSize);
    if (header.problem) throw new AuditError('corrupt', `The audit database ${label} is damaged: ${header.problem}.`);
    if (header.applicationId !== APPLICATION_ID) throw new AuditError('corrupt', `${label} is an SQLite file but not an Airlock audit database.`);
    if (header.userVersion > SCHEMA_VERSION) {
      throw new AuditError('newer-schema', `The audit database ${label} was written by a newer version of Airlock (schema ${header.userVersion}; this one reads up to ${SCHEMA_VERSION}). Update Airlock; the file was left untouched.`);
    }
    const SQL = await loadSqlJs();
    const data = fileSize < bytes.length && !header.sizeInHeader ? bytes.subarray(0, fileSize) : bytes;
    let db: Database | undefined;
    try {
      db = new SQL.Database(data);
      db.exec(CONNECTION_PRAGMAS);
      // A full structural check costs about 50 ms per 10 MB: worth it for the small logs most workspaces have;
      // in a large one, damage is found by verify or by the first query that reads it (then rebuilt).
      if (options.check !== false && fileSize <= QUICK_CHECK_MAX_BYTES) {
        const check = String(db.exec('PRAGMA quick_check')[0]?.values[0]?.[0] ?? '');
        if (check !== 'ok') throw new AuditError('corrupt', `The audit database ${label} is damaged: ${check}.`);
      }
      const adb = new AuditDatabase(db);
      adb.capacity = data.length;
      adb.loadState();
      return adb;
    } catch (e) {
      db?.close();
      if (AuditError.is(e)) throw e;
      throw new AuditError('corrupt', `The audit database ${label} is damaged: ${(e as Error).message}.`, { cause: e });
    }
  }

  /** What can still be read from a damaged database file, never throwing (for a rebuild, or for verify). */
  static async salvageBytes(bytes: Uint8Array): Promise<StoredEvent[]> {
    const SQL = await loadSqlJs();
    let db: Database | undefined;
    try {
      db = new SQL.Database(bytes);
      return new AuditDatabase(db).salvage();
    } catch {
      return [];
    } finally {
      try {
        db?.close();
      } catch {
        // nothing more to save
      }
    }
  }

  private loadState(): void {
    this.max = Number(this.scalar('SELECT coalesce(max(seq), 0) FROM events') ?? 0);
    this.kindIndex = this.scalar("SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = ?", [KIND_INDEX]) === 1;
    this.db.exec(TEXT_BLOCKS_TABLE);
    this.textSeq = Number(this.meta('text_index_seq') ?? 0);
    this.textBits.clear();
    this.textAllLoaded = false;
    const rows = this.db.exec('SELECT id, run_id, agent, status, reason, started_at, ended_at, first_seq, last_seq, last_at, events, tool_calls, denied, pending, approvals, alerts, cost_usd FROM runs')[0]?.values ?? [];
    for (const r of rows) {
      const run: RunRow = {
        id: Number(r[0]), runId: String(r[1]), agent: String(r[2]), status: String(r[3]) as RunStatus, reason: optStr(r[4]), startedAt: optStr(r[5]), endedAt: optStr(r[6]),
        firstSeq: Number(r[7]), lastSeq: Number(r[8]), lastAt: String(r[9]), events: Number(r[10]), toolCalls: Number(r[11]), denied: Number(r[12]),
        pending: Number(r[13]), approvals: Number(r[14]), alerts: Number(r[15]), costUsd: Number(r[16]),
      };
      this.runsById.set(run.runId, run);
      this.runsByNum.set(run.id, run);
      this.nextRunId = Math.max(this.nextRunId, run.id + 1);
    }
    this.loadCounts();
  }

  /** The planner's counts (value_counts), read again. */
  private loadCounts(): void {
    this.counts.clear();
    for (const r of this.db.exec('SELECT dim, value, n FROM value_counts')[0]?.values ?? []) this.counts.set(`${r[0]}\u0000${r[1]}`, Number(r[2]));
  }

  /** The highest seq in the database (events are contiguous from 1). */
  get maxSeq(): number {
    return this.max;
  }

  meta(key: string): string | undefined {
    return optStr(this.scalar('SELECT value FROM meta WHERE key = ?', [key]));
  }

  /** Adds events (seq > maxSeq, ascending) in one transaction, with the runs, the planner's counts and the text bits. */
  insert(records: readonly StoredEvent[]): void {
    this.insertFolded(
      records.map((r) => ({ seq: r.seq, hash: r.hash, body: r.body, facts: foldFacts(r.event) })),
      searchBits(records),
    );
  }

  /** insert, for events whose facts and search bits (`bits`, per block: see searchBits) were worked out already. */
  insertFolded(records: readonly FoldRecord[], bits: ReadonlyMap<number, Uint8Array>): void {
    if (records.length === 0) return;
    // Bits for events an older version added without them come first, so they stay complete up to maxSeq.
    this.textCatchUp();
    const textDirty = new Set<number>();
    const touched = new Set<RunRow>();
    const counted = new Map<Dim | 'kind', Map<string | number, number>>();
    const bump = (dim: Dim | 'kind', value: string | number | null) => {
      if (value === null) return;
      let m = counted.get(dim);
      if (!m) counted.set(dim, (m = new Map()));
      m.set(value, (m.get(value) ?? 0) + 1);
    };
    const rows: SqlValue[] = [];
    let inRows = 0;
    this.db.exec('BEGIN');
    try {
      if (!this.kindIndex) this.upgradeLayout();
      for (const r of records) {
        // Gaps are allowed (an unreadable journal line is left out, and verify reports it); going back is not.
        if (r.seq <= this.max) throw new Error(`audit database: event #${r.seq} is not after #${this.max}`);
        const [, agent, , type, tool, decision, level] = r.facts;
        const run = this.touchRun(r.facts, r.seq);
        touched.add(run);
        // The body goes in as UTF-8 bytes cast to TEXT: sql.js binds byte arrays far faster than strings.
        rows.push(r.seq, run.id, agent, type, tool, decision, level, typeof r.body === 'string' ? Buffer.from(r.body, 'utf8') : r.body, Buffer.from(r.hash, 'hex'));
        if (++inRows === INSERT_ROWS) {
          this.stmt(insertSql(INSERT_ROWS)).run(rows);
          rows.length = 0;
          inRows = 0;
        }
        bump('run', run.id);
        bump('agent', agent);
        bump('tool', tool);
        bump('kind', kindKey(type, decision, level));
        this.max = r.seq;
      }
      if (inRows > 0) this.stmt(insertSql(inRows)).run(rows);
      for (const [block, b] of bits) {
        addBits(this.textBlock(block), b);
        textDirty.add(block);
      }
      const up = this.stmt(
        'INSERT OR REPLACE INTO runs (id, run_id, agent, status, reason, started_at, ended_at, first_seq, last_seq, last_at, events, tool_calls, denied, pending, approvals, alerts, cost_usd) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      );
      for (const u of touched) {
        up.run([u.id, u.runId, u.agent, u.status, u.reason ?? null, u.startedAt ?? null, u.endedAt ?? null, u.firstSeq, u.lastSeq, u.lastAt, u.events, u.toolCalls, u.denied, u.pending, u.approvals, u.alerts, u.costUsd]);
      }
      this.saveTextBlocks(textDirty);
      const vc = this.stmt(PUT_COUNT);
      for (const [dim, m] of counted) {
        for (const [value, n] of m) {
          const k = `${dim}\u0000${value}`;
          const total = (this.counts.get(k) ?? 0) + n;
          this.counts.set(k, total);
          vc.run([dim, String(value), total]);
        }
      }
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      // The in-memory summaries may now be ahead of the tables: reload them from what was committed.
      this.runsById.clear();
      this.runsByNum.clear();
      this.counts.clear();
      this.loadState();
      throw e;
    }
  }

  /**
   * Gives a version 1 database this version's layout: the kind index and its counts in place of version 1's three
   * indexes and theirs. Runs inside the caller's transaction (the first insert), so a file is either one or the other.
   */
  private upgradeLayout(): void {
    this.db.exec(
      `${V1_KIND_COLUMNS.map((c) => `DROP INDEX IF EXISTS events_${c};`).join(' ')} ${KIND_INDEX_SQL}; ` +
        `DELETE FROM value_counts WHERE dim IN (${V1_KIND_COLUMNS.map((c) => `'${c}'`).join(', ')}); PRAGMA user_version = ${SCHEMA_VERSION};`,
    );
    const vc = this.stmt(PUT_COUNT);
    for (const [type, decision, level, n] of this.db.exec('SELECT type, decision, level, count(*) FROM events GROUP BY type, decision, level')[0]?.values ?? []) {
      vc.run(['kind', kindKey(type ?? null, decision ?? null, level ?? null), n ?? 0]);
    }
    this.loadCounts();
    this.kindIndex = true;
  }

  // ---------------------------------------------------------------- text search bits (textIndex.ts)

  /** A block's bits, from memory, the table, or new. */
  private textBlock(block: number): Uint8Array {
    let bits = this.textBits.get(block);
    if (!bits) {
      const stored = this.scalar('SELECT bits FROM text_blocks WHERE block = ?', [block]);
      bits = new Uint8Array(TEXT_BLOCK_BITS / 8);
      if (stored instanceof Uint8Array) bits.set(stored.subarray(0, bits.length));
      this.textBits.set(block, bits);
    }
    return bits;
  }

  /** Writes changed blocks and how far they reach. Runs inside the caller's transaction. */
  private saveTextBlocks(blocks: Iterable<number>): void {
    const put = this.stmt('INSERT OR REPLACE INTO text_blocks (block, bits) VALUES (?, ?)');
    for (const b of blocks) put.run([b, this.textBits.get(b)!]);
    this.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(['text_index_seq', String(this.max)]);
    this.textSeq = this.max;
  }

  /** Adds the bits of events stored without them (by a version before text_blocks), in one transaction. */
  private textCatchUp(): void {
    if (this.textSeq >= this.max) return;
    const read = this.stmt('SELECT seq, body FROM events WHERE seq > ? ORDER BY seq LIMIT 5000');
    const dirty = new Set<number>();
    this.db.exec('BEGIN');
    try {
      for (let after = this.textSeq; ; ) {
        const rows: SqlValue[][] = [];
        read.bind([after]);
        try {
          while (read.step()) rows.push(read.get());
        } finally {
          read.reset();
        }
        for (const [seq, body] of rows) {
          const block = blockOf(Number(seq));
          try {
            addEventText(this.textBlock(block), JSON.parse(String(body)) as Partial<AuditEvent>);
          } catch {
            // An unreadable body matches no search; verify reports it.
          }
          dirty.add(block);
        }
        if (rows.length < 5000) break;
        after = Number(rows[rows.length - 1]![0]);
      }
      this.saveTextBlocks(dirty);
      this.db.exec('COMMIT');
    } catch (e) {
      this.db.exec('ROLLBACK');
      this.textBits.clear();
      this.textAllLoaded = false;
      this.textSeq = Number(this.meta('text_index_seq') ?? 0);
      throw e;
    }
  }

  /**
   * The seq ranges within [lo, hi], in scan order, that a text search must read: the blocks whose bits allow the
   * term. Undefined when the term cannot be filtered by (under three characters).
   */
  private textRanges(text: string, lo: number, hi: number, order: 'asc' | 'desc'): Array<[number, number]> | undefined {
    const forms = termBits(text);
    if (!forms) return undefined;
    this.textCatchUp();
    if (!this.textAllLoaded) {
      for (const [block, bits] of this.db.exec('SELECT block, bits FROM text_blocks')[0]?.values ?? []) {
        if (!(bits instanceof Uint8Array) || this.textBits.has(Number(block))) continue;
        const copy = new Uint8Array(TEXT_BLOCK_BITS / 8);
        copy.set(bits.subarray(0, copy.length));
        this.textBits.set(Number(block), copy);
      }
      this.textAllLoaded = true;
    }
    const ranges: Array<[number, number]> = [];
    const first = blockOf(lo);
    const last = blockOf(hi);
    for (let i = 0; i <= last - first; i++) {
      const block = order === 'asc' ? first + i : last - i;
      const bits = this.textBits.get(block);
      if (!bits || !blockMayContain(bits, forms)) continue;
      const [from, to] = blockRange(block);
      const range: [number, number] = [Math.max(lo, from), Math.min(hi, to)];
      const prev = ranges[ranges.length - 1];
      // Neighbouring blocks are read as one range.
      if (prev && order === 'asc' && prev[1] + 1 === range[0]) prev[1] = range[1];
      else if (prev && order === 'desc' && range[1] + 1 === prev[0]) prev[0] = range[0];
      else ranges.push(range);
    }
    return ranges;
  }

  private touchRun(facts: FoldFacts, seq: number): RunRow {
    const [runId, agent, ts, type, , decision, , costUsd, endStatus, endReason] = facts;
    let run = this.runsById.get(runId);
    if (!run) {
      run = {
        id: this.nextRunId++, runId, agent, status: 'unknown', reason: undefined, startedAt: undefined, endedAt: undefined,
        firstSeq: seq, lastSeq: seq, lastAt: ts, events: 0, toolCalls: 0, denied: 0, pending: 0, approvals: 0, alerts: 0, costUsd: 0,
      };
      this.runsById.set(runId, run);
      this.runsByNum.set(run.id, run);
    }
    run.events++;
    run.lastSeq = seq;
    run.lastAt = ts;
    if (costUsd !== null) run.costUsd += costUsd;
    switch (type) {
      case TYPE_CODES['run.start']:
        run.startedAt = ts;
        if (run.status === 'unknown') run.status = 'running';
        break;
      case TYPE_CODES['run.end']:
        run.endedAt = ts;
        run.status = endStatus ?? 'completed';
        run.reason = endReason ?? undefined;
        break;
      case TYPE_CODES['tool.call']:
        run.toolCalls++;
        break;
      case TYPE_CODES.approval:
        run.approvals++;
        break;
      case TYPE_CODES.alert:
        run.alerts++;
        break;
    }
    if (decision === DECISION_CODES.deny || decision === DECISION_CODES.rejected) run.denied++;
    // Gates waiting for a human: a pending decision opens one, an approval or rejection closes one.
    if (decision === DECISION_CODES.pending) run.pending++;
    else if ((decision === DECISION_CODES.approved || decision === DECISION_CODES.rejected) && run.pending > 0) run.pending--;
    return run;
  }

  /** The whole database as bytes, with the chain head recorded in `meta` (so deleting the last rows is noticed). */
  export(head: { seq: number; hash: string }): Uint8Array {
    const put = this.stmt('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)');
    put.run(['head_seq', String(head.seq)]);
    put.run(['head_hash', head.hash]);
    put.run(['written_at', new Date().toISOString()]);
    return this.db.export();
  }

  get(seq: number): AuditEvent | undefined {
    const s = this.stmt('SELECT body, hash FROM events WHERE seq = ?');
    s.bind([seq]);
    try {
      return s.step() ? toEvent(s.get()) : undefined;
    } finally {
      s.reset();
    }
  }

  /** The first seq whose ts is at or after `iso` (maxSeq + 1 when none): ts never decreases along the chain. */
  seqAtOrAfter(iso: string): number {
    let lo = 1;
    let hi = this.max + 1;
    const s = this.stmt('SELECT body FROM events WHERE seq >= ? ORDER BY seq LIMIT 1');
    while (lo < hi) {
      const mid = Math.floor((lo + hi) / 2);
      s.bind([mid]);
      let ts = '';
      try {
        if (s.step()) ts = String((JSON.parse(String(s.get()[0])) as { ts?: unknown }).ts ?? '');
      } finally {
        s.reset();
      }
      if (ts >= iso) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  }

  page(q: AuditQuery): AuditPage {
    const limit = Math.max(1, Math.min(1000, Math.floor(q.limit ?? 100)));
    const order: 'asc' | 'desc' = q.after !== undefined ? 'asc' : 'desc';
    let lo = 1;
    let hi = this.max;
    if (q.after !== undefined) lo = Math.max(lo, Math.floor(q.after) + 1);
    if (q.before !== undefined) hi = Math.min(hi, Math.ceil(q.before) - 1);
    if (q.since !== undefined) lo = Math.max(lo, this.seqAtOrAfter(q.since));
    if (q.until !== undefined) hi = Math.min(hi, this.seqAtOrAfter(q.until) - 1);
    const conds = this.dimConditions(q);
    if (lo > hi || conds === 'none') return { events: [], order, hasMore: false };

    const text = q.text?.trim() ? q.text.trim() : undefined;
    const like = text !== undefined ? likeTerm(text) : undefined;
    const matchesText = text !== undefined ? textMatcher(text) : undefined;
    // Without a LIKE, rows whose stored text cannot hold the term are still skipped before they are parsed.
    const bodyMayMatch = text !== undefined && like === undefined ? bodyPrefilter(text) : undefined;

    // Drive the scan from the most selective index when it is selective enough; otherwise walk the table by seq,
    // which stops as soon as the page is full. An index is read as one stream per value (or combination) wanted.
    let driver: Driver | undefined;
    for (const d of this.drivers(conds)) if (!driver || d.estimate < driver.estimate) driver = d;
    if (driver && driver.estimate > Math.max(2000, this.max * 0.05)) driver = undefined;

    const residual = conds.filter((c) => !driver?.covers.includes(c));
    const where: string[] = ['seq BETWEEN ? AND ?'];
    const params: SqlValue[] = [];
    for (const c of residual) {
      where.push(`${c.dim} IN (${c.values.map(() => '?').join(', ')})`);
      params.push(...(c.values as SqlValue[]));
    }
    if (like) {
      where.push(`body LIKE ? ESCAPE '\\'`);
      params.push(like);
    }
    const dir = order === 'asc' ? 'ASC' : 'DESC';
    const want = limit + 1;
    const out: AuditEvent[] = [];

    const streams: ReadonlyArray<readonly SqlValue[]> = driver ? driver.streams : [[]];
    // Each stream is read in chunks along seq; the streams are merged so the page is in seq order.
    const stmt = this.stmt(
      `SELECT seq, body, hash FROM events ${driver ? `INDEXED BY ${driver.index}` : 'NOT INDEXED'} WHERE ${driver ? `${driver.match} AND ` : ''}${where.join(' AND ')} ORDER BY seq ${dir} LIMIT ?`,
    );
    const chunk = Math.max(want, 64);
    interface Cursor {
      values: readonly SqlValue[];
      lo: number;
      hi: number;
      buf: SqlValue[][];
      done: boolean;
    }
    const fill = (c: Cursor) => {
      stmt.bind([...c.values, c.lo, c.hi, ...params, chunk]);
      try {
        while (stmt.step()) c.buf.push(stmt.get());
      } finally {
        stmt.reset();
      }
      if (c.buf.length < chunk) c.done = true;
      const last = c.buf[c.buf.length - 1];
      if (last) {
        if (order === 'asc') c.lo = Number(last[0]) + 1;
        else c.hi = Number(last[0]) - 1;
      }
    };
    // A text search reads only the blocks its term can occur in (textIndex.ts); everything else reads [lo, hi].
    const ranges = (text !== undefined ? this.textRanges(text, lo, hi, order) : undefined) ?? [[lo, hi]];
    for (const [rangeLo, rangeHi] of ranges) {
      const cursors: Cursor[] = streams.map((values) => ({ values, lo: rangeLo, hi: rangeHi, buf: [], done: false }));
      for (;;) {
        if (out.length >= want) break;
        for (const c of cursors) if (c.buf.length === 0 && !c.done) fill(c);
        let pick: Cursor | undefined;
        for (const c of cursors) {
          const head = c.buf[0];
          if (!head) continue;
          if (!pick || (order === 'asc' ? Number(head[0]) < Number(pick.buf[0]![0]) : Number(head[0]) > Number(pick.buf[0]![0]))) pick = c;
        }
        if (!pick) break;
        const row = pick.buf.shift()!;
        if (bodyMayMatch && !bodyMayMatch(String(row[1]))) continue;
        const ev = toEvent([row[1]!, row[2]!]);
        if (matchesText && !matchesText(ev)) continue;
        out.push(ev);
      }
      if (out.length >= want) break;
    }
    const hasMore = out.length > limit;
    return { events: hasMore ? out.slice(0, limit) : out, order, hasMore };
  }

  /** How many events match (the same filters as page, without paging). */
  count(q: AuditQuery): number {
    let n = 0;
    let before: number | undefined = q.before;
    for (;;) {
      const p = this.page({ ...q, after: undefined, before, limit: 1000 });
      n += p.events.length;
      if (!p.hasMore) return n;
      before = p.events[p.events.length - 1]!.seq;
    }
  }

  private estimate(dim: Dim, value: string | number): number {
    if (dim === 'run') return this.runsByNum.get(Number(value))?.events ?? 0;
    return this.counts.get(`${dim}\u0000${value}`) ?? 0;
  }

  /**
   * The indexes a page could be driven from: one per condition, except that with the kind index (version 2) the
   * conditions on type, decision and level share it, read once per counted combination that meets them all.
   */
  private drivers(conds: readonly Cond[]): Driver[] {
    const kinds = this.kindIndex ? conds.filter((c) => KIND_DIMS.has(c.dim)) : [];
    const out: Driver[] = conds
      .filter((c) => !kinds.includes(c))
      .map((c) => ({
        covers: [c], index: `events_${c.dim}`, match: `${c.dim} = ?`, streams: c.values.map((v) => [v]),
        estimate: c.values.reduce<number>((n, v) => n + this.estimate(c.dim, v), 0),
      }));
    if (kinds.length === 0) return out;
    const wanted = (dim: Dim, value: number | null) => kinds.every((c) => c.dim !== dim || (value !== null && c.values.includes(value)));
    const streams: SqlValue[][] = [];
    let estimate = 0;
    for (const [key, n] of this.counts) {
      if (!key.startsWith(KIND_PREFIX)) continue;
      const [type, decision, level] = key.slice(KIND_PREFIX.length).split(':').map((v) => (v === '' ? null : Number(v)));
      if (wanted('type', type!) && wanted('decision', decision!) && wanted('level', level!)) {
        streams.push([type!, decision!, level!]);
        estimate += n;
      }
    }
    out.push({ covers: kinds, index: KIND_INDEX, match: 'type = ? AND decision IS ? AND level IS ?', streams, estimate });
    return out;
  }

  private dimConditions(q: AuditQuery): Cond[] | 'none' {
    const conds: Cond[] = [];
    const add = (dim: Dim, values: ReadonlyArray<string | number | undefined> | undefined): boolean => {
      if (values === undefined) return true;
      const known = [...new Set(values.filter((v): v is string | number => v !== undefined))];
      if (known.length === 0) return false;
      conds.push({ dim, values: known });
      return true;
    };
    const ok =
      add('run', asList(q.runId)?.map((id) => this.runsById.get(id)?.id)) &&
      add('agent', asList(q.agent)) &&
      add('type', asList(q.type)?.map((t) => TYPE_CODES[t])) &&
      add('tool', asList(q.tool)) &&
      add('decision', asList(q.decision)?.map((d) => DECISION_CODES[d])) &&
      add('level', asList(q.level)?.map((l) => LEVEL_CODES[l]));
    return ok ? conds : 'none';
  }

  runs(q: RunsQuery = {}): RunSummary[] {
    const limit = Math.max(1, Math.min(10_000, Math.floor(q.limit ?? 100)));
    const list = [...this.runsById.values()]
      .filter((r) => (q.agent === undefined || r.agent === q.agent) && (q.status === undefined || r.status === q.status) && (q.before === undefined || r.lastSeq < q.before))
      .sort((a, b) => b.lastSeq - a.lastSeq);
    return list.slice(0, limit).map(summary);
  }

  run(runId: string): RunDetail | undefined {
    const r = this.runsById.get(runId);
    if (!r) return undefined;
    const byType: Partial<Record<AuditEventType, number>> = {};
    const byDecision: Partial<Record<Decision, number>> = {};
    const rows = this.db.exec('SELECT type, decision, count(*) FROM events INDEXED BY events_run WHERE run = ? GROUP BY type, decision', [r.id])[0]?.values ?? [];
    for (const [t, d, n] of rows) {
      const tn = TYPE_NAMES.get(Number(t));
      if (tn) byType[tn] = (byType[tn] ?? 0) + Number(n);
      const dn = d === null ? undefined : DECISION_NAMES.get(Number(d));
      if (dn) byDecision[dn] = (byDecision[dn] ?? 0) + Number(n);
    }
    return { ...summary(r), byType, byDecision };
  }

  /** Events from `fromSeq` on, in seq order, read in chunks (for export). */
  *events(fromSeq = 1, toSeq = this.max): Generator<AuditEvent> {
    const s = this.stmt('SELECT seq, body, hash FROM events WHERE seq >= ? AND seq <= ? ORDER BY seq LIMIT 2000');
    let next = fromSeq;
    for (;;) {
      const rows: SqlValue[][] = [];
      s.bind([next, toSeq]);
      try {
        while (s.step()) rows.push(s.get());
      } finally {
        s.reset();
      }
      for (const r of rows) yield toEvent([r[1]!, r[2]!]);
      if (rows.length < 2000) return;
      next = Number(rows[rows.length - 1]![0]) + 1;
    }
  }

  /** Feeds every row to the chain verifier, in seq order; a read error marks the next expected seq unreadable. */
  async verifyInto(verifier: ChainVerifier, where: ChainLocation, threads?: number): Promise<void> {
    const db = this.db;
    // A few thousand rows go into typed arrays, which move to a worker thread without being copied. The body is
    // read as text (sql.js decodes text natively but copies blobs byte by byte) and encoded back into the chunk.
    const encoder = new TextEncoder();
    function* chunks(): Generator<ChainChunk> {
      const s = db.prepare('SELECT seq, hash, body FROM events ORDER BY seq');
      try {
        let c = newChunk(VERIFY_CHUNK, VERIFY_CHUNK * 700);
        let n = 0;
        let at = 0;
        while (s.step()) {
          const r = s.get();
          const body = String(r[2]);
          // UTF-8 takes at most 3 bytes per UTF-16 unit: make room before encoding.
          if (at + body.length * 3 > c.bodies.length) {
            const bigger = new Uint8Array(Math.max(c.bodies.length * 2, at + body.length * 3));
            bigger.set(c.bodies.subarray(0, at));
            c = { ...c, bodies: bigger };
          }
          at += encoder.encodeInto(body, c.bodies.subarray(at)).written;
          c.seqs[n] = Number(r[0]);
          // A hash of the wrong length (edited) is cut or zero-padded: it can only fail to match, as it should.
          if (r[1] instanceof Uint8Array) c.hashes.set(r[1].subarray(0, 32), 32 * n);
          c.offsets[++n] = at;
          if (n === VERIFY_CHUNK) {
            yield c;
            c = newChunk(VERIFY_CHUNK, VERIFY_CHUNK * 700);
            n = 0;
            at = 0;
          }
        }
        if (n > 0) yield { seqs: c.seqs.subarray(0, n), hashes: c.hashes.subarray(0, 32 * n), offsets: c.offsets.subarray(0, n + 1), bodies: c.bodies.subarray(0, at) };
      } finally {
        s.free();
      }
    }
    await verifier.pushChunks(chunks(), where, (e) => `the database cannot be read past event #${verifier.head.seq} (${(e as Error).message})`, threads);
  }

  /** Every stored event that can still be read, in seq order (from a damaged database, as much as possible). */
  private salvage(): StoredEvent[] {
    const out: StoredEvent[] = [];
    let next = 1;
    let step = 1;
    // After a read error, jump past the damage in growing steps: a lost page holds a few dozen rows, a lost
    // interior page many more; 48 attempts reach any seq a log can have.
    for (let attempt = 0; attempt < 48; attempt++) {
      let s: Statement | undefined;
      try {
        s = this.db.prepare('SELECT seq, body, hash FROM events WHERE seq >= ? ORDER BY seq');
        s.bind([next]);
        while (s.step()) {
          const r = s.get();
          const body = String(r[1]);
          const hash = r[2] instanceof Uint8Array ? Buffer.from(r[2]).toString('hex') : '';
          try {
            out.push({ seq: Number(r[0]), hash, body, event: JSON.parse(body) as Record<string, unknown> });
          } catch {
            // An unparsable body is left out; the chain check after the rebuild reports the gap.
          }
          next = Number(r[0]) + 1;
          step = 1;
        }
        return out;
      } catch {
        next += step;
        step *= 2;
      } finally {
        s?.free();
      }
    }
    return out;
  }

  /** Checks the derived columns and tables against the hashed bodies (for `verify --deep`). */
  checkDerived(): { seq: number; detail: string } | undefined {
    const integrity = String(this.scalar('PRAGMA integrity_check') ?? '');
    if (integrity !== 'ok') return { seq: 0, detail: `SQLite integrity check: ${integrity}` };
    const s = this.db.prepare('SELECT e.seq, e.agent, e.type, e.tool, e.decision, e.level, r.run_id, e.body FROM events e LEFT JOIN runs r ON r.id = e.run ORDER BY e.seq');
    // The text search bits (events up to the recorded text_index_seq) must hold every trigram of their events:
    // cleared bits would hide events from a search without touching the chain.
    const textSeq = this.textSeq;
    let block = -1;
    let expected = new Uint8Array(TEXT_BLOCK_BITS / 8);
    const checkBlock = (): { seq: number; detail: string } | undefined => {
      if (block < 0) return undefined;
      const stored = this.scalar('SELECT bits FROM text_blocks WHERE block = ?', [block]);
      if (stored instanceof Uint8Array && covers(stored, expected)) return undefined;
      const [from, to] = blockRange(block);
      return { seq: from, detail: `the text search index of events #${from}–#${Math.min(to, textSeq)} lacks terms they contain (the database was edited outside Airlock): a search could miss them` };
    };
    try {
      while (s.step()) {
        const [seq, agent, type, tool, decision, level, runId, body] = s.get();
        const e = JSON.parse(String(body)) as Partial<AuditEvent>;
        const [runIdOf, agentOf, , typeOf, toolOf, decisionOf, levelOf] = foldFacts(e);
        const want = [agentOf, typeOf, toolOf, decisionOf, levelOf, runIdOf];
        const have = [agent, type, tool, decision, level, runId];
        const i = want.findIndex((w, k) => w !== have[k]);
        if (i >= 0) return { seq: Number(seq), detail: `its ${['agent', 'type', 'tool', 'decision', 'level', 'run'][i]} column disagrees with the event itself (the database was edited outside Airlock)` };
        if (Number(seq) <= textSeq) {
          if (blockOf(Number(seq)) !== block) {
            const bad = checkBlock();
            if (bad) return bad;
            block = blockOf(Number(seq));
            expected = new Uint8Array(TEXT_BLOCK_BITS / 8);
          }
          addEventText(expected, e);
        }
      }
      return checkBlock();
    } finally {
      s.free();
    }
  }

  close(): void {
    for (const s of this.stmts.values()) s.free();
    this.stmts.clear();
    this.db.close();
  }

  private stmt(sql: string): Statement {
    let s = this.stmts.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.stmts.set(sql, s);
    }
    return s;
  }

  private scalar(sql: string, params: SqlValue[] = []): SqlValue | undefined {
    return this.db.exec(sql, params)[0]?.values[0]?.[0];
  }
}

function newChunk(rows: number, bytes: number): ChainChunk {
  return { seqs: new Float64Array(rows), hashes: new Uint8Array(32 * rows), offsets: new Uint32Array(rows + 1), bodies: new Uint8Array(bytes) };
}

function optStr(v: SqlValue | undefined): string | undefined {
  return v === null || v === undefined ? undefined : String(v);
}

function runEndStatus(e: Partial<AuditEvent>): RunStatus {
  const s = (e.result as { status?: unknown } | undefined)?.status;
  if (s === 'completed' || s === 'failed' || s === 'halted') return s;
  return e.decision === 'halt' ? 'halted' : 'completed';
}

function summary(r: RunRow): RunSummary {
  return {
    runId: r.runId, agent: r.agent, status: r.status, reason: r.reason, startedAt: r.startedAt, endedAt: r.endedAt, firstSeq: r.firstSeq, lastSeq: r.lastSeq,
    lastAt: r.lastAt, events: r.events, toolCalls: r.toolCalls, denied: r.denied, pending: r.pending, approvals: r.approvals, alerts: r.alerts, costUsd: r.costUsd,
  };
}

function toEvent(row: SqlValue[]): AuditEvent {
  const hash = row[1] instanceof Uint8Array ? Buffer.from(row[1].buffer, row[1].byteOffset, row[1].byteLength).toString('hex') : String(row[1]);
  return { ...(JSON.parse(String(row[0])) as Omit<AuditEvent, 'hash'>), hash };
}

/**
 * The SQL LIKE pattern that every match satisfies, when there is one that is sure to: the search looks at the
 * lower-cased tool, reason and arguments (textMatcher), the LIKE at the stored JSON with ASCII-only case folding.
 * They agree for a term of plain ASCII without JSON's structural or escaped characters (which may differ between
 * the stored JSON and the JSON searched, or appear escaped), and without `i` and `k`, which non-ASCII letters turn
 * into when lower-cased (İ, the Kelvin sign) where LIKE does not follow.
 */
function likeTerm(text: string): string | undefined {
  if (!/^[\x20-\x7e]+$/.test(text) || /[,:{}[\]"\\ik]/i.test(text)) return undefined;
  return `%${text.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
}

/**
 * A test on the stored JSON that every match passes, for terms LIKE cannot take: the lower-cased JSON holds the
 * term as typed or JSON-escaped, unless the term spans JSON's structure (then every row is parsed and searched).
 */
function bodyPrefilter(text: string): ((body: string) => boolean) | undefined {
  if (/[,:{}[\]]/.test(text)) return undefined;
  const needle = text.toLowerCase();
  const escaped = JSON.stringify(needle).slice(1, -1);
  return (body) => {
    const lower = body.toLowerCase();
    return lower.includes(needle) || lower.includes(escaped);
  };
}

function textMatcher(text: string): (e: AuditEvent) => boolean {
  const needle = text.toLowerCase();
  const escaped = JSON.stringify(needle).slice(1, -1);
  return (e) => {
    if ((e.tool ?? '').toLowerCase().includes(needle) || (e.reason ?? '').toLowerCase().includes(needle)) return true;
    if (e.args === undefined) return false;
    const json = JSON.stringify(e.args).toLowerCase();
    return json.includes(needle) || json.includes(escaped);
  };
}

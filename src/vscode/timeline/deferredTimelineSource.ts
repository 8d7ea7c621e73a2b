// A timeline source whose audit database is loaded only when something needs it. Loading a large database reads
// the whole file into sql.js (about a second at a million events, on the reader's worker thread); the first thing
// a timeline shows (the newest page, unfiltered) is read straight from the journal and its newest segment instead
// (src/core/audit/auditTail.ts), and the database is loaded once that page is on its way; older unfiltered pages
// still in the journal (or a small newest segment) are read from them too while the database loads. Every other
// request waits for it. Events appended meanwhile are announced when it has loaded, so a following view
// catches up. No `vscode` import: unit-tested directly.
import { readNewestEvents } from '../../core/audit/auditTail';
import type { AuditEvent } from '../../protocol/auditEvent';
import type { ExportFormat, PageQuery, RunSummary, TimelineFacets, TimelineFilter, TimelinePage, VerifyOutcome } from '../../protocol/timelineProtocol';
import { rowOf } from './timelineRows';
import type { AppendNotice, SourceSubscription, TimelineSource } from './timelineSource';

/**
 * A segment is unpacked whole, on the extension host's thread: one up to this size (compressed: about 40,000
 * events, under 0.1 s here) is read rather than wait for the database; a larger one (right after a write-out at a
 * million events it holds 250,000) is left to the database, which loads on the reader's worker thread.
 */
export const SEGMENT_BYTES_ON_HOST = 3 * 1024 * 1024;

export class DeferredTimelineSource implements TimelineSource {
  private loading: Promise<TimelineSource> | undefined;
  private loaded: TimelineSource | undefined;
  private disposed = false;
  /** The newest seq served without the database (0: none). */
  private servedUpTo = 0;
  private readonly listeners = new Set<(n: AppendNotice) => void>();
  private innerSub: SourceSubscription | undefined;

  constructor(
    private readonly stateDir: string,
    private readonly open: () => Promise<TimelineSource>,
    private readonly log?: (message: string) => void,
    private readonly segmentBytesLimit = SEGMENT_BYTES_ON_HOST,
  ) {}

  /** The database is loaded (or loading failed and will be retried on the next request). */
  get isLoaded(): boolean {
    return this.loaded !== undefined;
  }

  /** Starts loading the database if nothing has yet; resolves with the loaded source. */
  load(): Promise<TimelineSource> {
    this.loading ??= this.open().then(
      async (s) => {
        if (this.disposed) {
          await s.dispose();
          throw new Error('the timeline source was closed');
        }
        this.loaded = s;
        if (this.listeners.size > 0) this.subscribe(s);
        await this.catchUp(s);
        return s;
      },
      (err: unknown) => {
        this.loading = undefined;
        throw err;
      },
    );
    return this.loading;
  }

  /** Loads the database soon (after the caller's current work, such as posting the first page). */
  prefetch(): void {
    if (this.loading || this.disposed) return;
    setTimeout(() => void this.load().catch(() => undefined), 0);
  }

  async page(q: PageQuery): Promise<TimelinePage> {
    // The newest page, and pages further back while the database loads, from the journal and small segments.
    const before = q.direction === 'before' ? q.seq : undefined;
    if (!this.loaded && isEmpty(q.filter) && (q.direction === 'latest' || before !== undefined)) {
      const started = performance.now();
      const page = readNewestEvents(this.stateDir, q.limit, { before, segmentBytesLimit: this.segmentBytesLimit });
      const what = before === undefined ? `the newest ${q.limit} events` : `${q.limit} events before #${before}`;
      this.log?.(`Timeline: ${what} ${page ? 'read' : 'could not be read'} from the journal in ${Math.round(performance.now() - started)} ms${page ? '' : '; loading the database'}`);
      if (page) {
        this.servedUpTo = Math.max(this.servedUpTo, page.lastSeq);
        return { rows: page.events.map(rowOf), hasBefore: page.hasBefore, hasAfter: before !== undefined };
      }
    }
    return (await this.load()).page(q);
  }

  async event(seq: number): Promise<AuditEvent | undefined> {
    return (await this.load()).event(seq);
  }

  async runs(limit: number): Promise<RunSummary[]> {
    return (await this.load()).runs(limit);
  }

  async facets(): Promise<TimelineFacets> {
    return (await this.load()).facets();
  }

  async verify(): Promise<VerifyOutcome> {
    return (await this.load()).verify();
  }

  async export(format: ExportFormat, file: string, filter?: TimelineFilter): Promise<number> {
    return (await this.load()).export(format, file, filter);
  }

  onDidAppend(listener: (n: AppendNotice) => void): SourceSubscription {
    this.listeners.add(listener);
    if (this.loaded) this.subscribe(this.loaded);
    return {
      dispose: () => {
        this.listeners.delete(listener);
        if (this.listeners.size === 0) {
          this.innerSub?.dispose();
          this.innerSub = undefined;
        }
      },
    };
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    this.listeners.clear();
    this.innerSub?.dispose();
    this.innerSub = undefined;
    const s = this.loaded;
    this.loaded = undefined;
    if (s) await s.dispose();
  }

  private subscribe(s: TimelineSource): void {
    this.innerSub ??= s.onDidAppend((n) => this.fire(n));
  }

  /** Events appended between the page read from the files and the database: announced like any append. */
  private async catchUp(s: TimelineSource): Promise<void> {
    if (this.servedUpTo === 0) return;
    const last = (await s.page({ filter: {}, direction: 'latest', limit: 1 })).rows.at(-1)?.seq ?? 0;
    if (last > this.servedUpTo) this.fire({ lastSeq: last, count: last - this.servedUpTo });
  }

  private fire(n: AppendNotice): void {
    for (const l of this.listeners) l(n);
  }
}

function isEmpty(f: TimelineFilter): boolean {
  return Object.values(f).every((v) => v === undefined);
}

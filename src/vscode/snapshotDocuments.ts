// Read-only documents for what a snapshot holds (`airlock-snapshot:` URIs): a file's content before or after a
// snapshot's operation, or as it is now. Each URI names the content by its sha256, so a document never changes
// under an open diff, and showing one never writes anything.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { FileState } from '../core/snapshots/snapshotManifest';
import type { SnapshotStore } from '../core/snapshots/snapshotStore';

export const snapshotScheme = 'airlock-snapshot';

/** Bigger contents are described rather than shown: a diff of them would not be read, and it costs memory in two processes. */
const MAX_SHOWN_BYTES = 10 * 1024 * 1024;

export interface SnapshotContent {
  readonly snapshotId: string;
  /** Workspace-relative, `/`-separated. */
  readonly path: string;
  /** The content, or null when the file did not exist (an empty document). */
  readonly state: FileState | null;
  /** Which side this is, for the tab title: `before`, `after`, `now`, `after rollback`. */
  readonly side: string;
}

export class SnapshotDocuments implements vscode.TextDocumentContentProvider {
  /** `store()` opens the workspace's snapshot store on first use (it may wait for another process's lock). */
  constructor(private readonly store: () => Promise<SnapshotStore>) {}

  /** `airlock-snapshot:/<path>?…`: the path keeps the file's name and extension, so the language mode is right. */
  static uriFor(content: SnapshotContent): vscode.Uri {
    const query = new URLSearchParams({ snapshot: content.snapshotId, side: content.side });
    if (content.state) {
      query.set('sha256', content.state.hash);
      query.set('size', String(content.state.size));
    }
    return vscode.Uri.from({ scheme: snapshotScheme, path: `/${content.path}`, query: query.toString() });
  }

  async provideTextDocumentContent(uri: vscode.Uri): Promise<string> {
    const query = new URLSearchParams(uri.query);
    const hash = query.get('sha256');
    if (!hash) return '';
    const path = uri.path.replace(/^\//, '');
    const snapshotId = query.get('snapshot') ?? '';
    const size = Number(query.get('size') ?? 0);
    if (size > MAX_SHOWN_BYTES) return `(${describeSize(size)}, sha256 ${hash.slice(0, 12)}…: too large to show here)\n`;
    const bytes = await this.bytes(snapshotId, path, { hash, size, mode: 0 });
    if (typeof bytes === 'string') return bytes;
    return asText(bytes) ?? `(binary content: ${describeSize(bytes.length)}, sha256 ${hash.slice(0, 12)}…; not shown)\n`;
  }

  /**
   * The stored copy when the store has one (every `before`, and every `after` that a later snapshot captured);
   * otherwise the workspace file, when it still holds exactly those bytes (what an apply wrote, or the current
   * content shown in a rollback preview). A string explains why the content is not available.
   */
  private async bytes(snapshotId: string, path: string, state: FileState): Promise<Buffer | string> {
    const store = await this.store();
    try {
      return await store.readBlob(state);
    } catch {
      // Not stored (or damaged): the workspace may still have it.
    }
    let workspace: string;
    try {
      workspace = (await store.get(snapshotId)).workspace;
    } catch (err) {
      return `(snapshot ${snapshotId} is not available: ${(err as Error).message})\n`;
    }
    const segments = path.split('/');
    if (segments.some((s) => s === '' || s === '.' || s === '..')) return `(${path} is not a workspace path)\n`;
    // Only served when the bytes hash to what the URI names, so this never shows anything but that content.
    const current = await readFile(join(workspace, ...segments)).catch(() => undefined);
    if (current && createHash('sha256').update(current).digest('hex') === state.hash) return current;
    return `(this content of ${path} is no longer available: the file has changed since, and no snapshot kept a copy of these bytes)\n`;
  }
}

/** UTF-8 text, or undefined for content that is not (NUL bytes or invalid UTF-8). */
function asText(bytes: Buffer): string | undefined {
  if (bytes.subarray(0, 8192).includes(0)) return undefined;
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

function describeSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} bytes`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}

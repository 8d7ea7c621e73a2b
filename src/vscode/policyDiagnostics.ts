// An invalid `.airlock/policy.json` shows up where the user looks for problems: squiggles on the file and
// entries in the Problems view, updated as they type and when the file changes on disk. Runs are refused
// meanwhile (the runner loads the same file), with a message pointing here.
import { readFile } from 'node:fs/promises';
import { findNodeAtLocation, parseTree, type Node } from 'jsonc-parser';
import * as vscode from 'vscode';
import { PolicyError, parsePolicyText, type PolicyProblem } from '../core/policy/policyLoader';

const policyGlob = '**/.airlock/policy.json';

export class PolicyDiagnostics implements vscode.Disposable {
  private readonly collection = vscode.languages.createDiagnosticCollection('airlock-policy');
  private readonly subscriptions: vscode.Disposable[] = [this.collection];

  constructor() {
    const watcher = vscode.workspace.createFileSystemWatcher(policyGlob);
    this.subscriptions.push(
      watcher,
      watcher.onDidCreate((u) => void this.checkFile(u)),
      watcher.onDidChange((u) => void this.checkFile(u)),
      watcher.onDidDelete((u) => this.collection.delete(u)),
      vscode.workspace.onDidOpenTextDocument((d) => this.checkDocument(d)),
      vscode.workspace.onDidChangeTextDocument((e) => this.checkDocument(e.document)),
      // Closing an edited-but-unsaved policy: what counts again is the file on disk.
      vscode.workspace.onDidCloseTextDocument((d) => void (isPolicy(d.uri) && this.checkFile(d.uri))),
      vscode.workspace.onDidChangeWorkspaceFolders(() => void this.checkAll()),
    );
    void this.checkAll();
  }

  /** The problems currently shown for a policy file (for tests). */
  problemsFor(uri: vscode.Uri): readonly vscode.Diagnostic[] {
    return this.collection.get(uri) ?? [];
  }

  async checkAll(): Promise<void> {
    for (const folder of vscode.workspace.workspaceFolders ?? []) {
      await this.checkFile(vscode.Uri.joinPath(folder.uri, '.airlock', 'policy.json'));
    }
  }

  private async checkFile(uri: vscode.Uri): Promise<void> {
    const open = vscode.workspace.textDocuments.find((d) => d.uri.toString() === uri.toString());
    if (open) return this.checkDocument(open);
    let text: string;
    try {
      text = await readFile(uri.fsPath, 'utf8');
    } catch {
      this.collection.delete(uri);
      return;
    }
    this.set(uri, text);
  }

  private checkDocument(doc: vscode.TextDocument): void {
    if (isPolicy(doc.uri)) this.set(doc.uri, doc.getText());
  }

  private set(uri: vscode.Uri, text: string): void {
    try {
      parsePolicyText(text, uri.fsPath);
      this.collection.delete(uri);
    } catch (e) {
      if (!PolicyError.is(e)) throw e;
      this.collection.set(uri, diagnosticsFor(e, text));
    }
  }

  dispose(): void {
    for (const d of this.subscriptions) d.dispose();
  }
}

function isPolicy(uri: vscode.Uri): boolean {
  return uri.scheme === 'file' && /[\\/]\.airlock[\\/]policy\.json$/.test(uri.fsPath);
}

/** One diagnostic per problem, on the field it is about (its key when it has one), else the start of the file. */
export function diagnosticsFor(e: PolicyError, text: string): vscode.Diagnostic[] {
  const lines = new LineIndex(text);
  const tree = parseTree(text, [], { allowTrailingComma: true, disallowComments: false });
  const problems: readonly PolicyProblem[] = e.problems.length > 0 ? e.problems : [{ path: [], message: e.message }];
  return problems.map((p) => {
    const [start, length] = p.offset !== undefined ? [p.offset, Math.max(1, p.length ?? 1)] : locate(tree, p.path);
    const field = p.path.length > 0 ? `${p.path.map((k) => (typeof k === 'number' ? `[${k}]` : k)).join('.').replace(/\.\[/g, '[')}: ` : '';
    const d = new vscode.Diagnostic(new vscode.Range(lines.position(start), lines.position(start + length)), `${field}${p.message}. Runs are refused until the policy is valid.`, vscode.DiagnosticSeverity.Error);
    d.source = 'Agent Airlock';
    d.code = e.reason === 'syntax' ? 'policy-syntax' : 'policy-invalid';
    return d;
  });
}

/** The span of the deepest node on `path` that exists: a property's key when the path ends at one. */
function locate(tree: Node | undefined, path: readonly (string | number)[]): [number, number] {
  if (!tree) return [0, 1];
  for (let n = path.length; n >= 0; n--) {
    const node = findNodeAtLocation(tree, [...path.slice(0, n)]);
    if (!node) continue;
    // A field that is there is marked by its key; a missing one by the key of the object that lacks it.
    const target = (node.parent?.type === 'property' ? node.parent.children?.[0] : undefined) ?? node;
    return [target.offset, Math.max(1, target.length)];
  }
  return [0, 1];
}

class LineIndex {
  private readonly starts: number[] = [0];
  constructor(text: string) {
    for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) this.starts.push(i + 1);
  }
  position(offset: number): vscode.Position {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return new vscode.Position(lo, offset - this.starts[lo]!);
  }
}

// Before Airlock writes files (apply, rollback), open editors with unsaved edits to those files are settled with
// the user: writing under them would leave a buffer that silently overwrites the new content on the next save.
import { join } from 'node:path';
import * as vscode from 'vscode';
import type { Prompts } from './userPrompts';

export const dirtyChoices = { discard: 'Discard Unsaved Edits and Continue', cancel: 'Cancel' } as const;

/** Open documents with unsaved edits among `relPaths` (workspace-relative, `/`-separated) of `workspace`. */
export function dirtyDocuments(workspace: string, relPaths: Iterable<string>): vscode.TextDocument[] {
  const wanted = new Set([...relPaths].map((p) => vscode.Uri.file(join(workspace, ...p.split('/'))).toString()));
  return vscode.workspace.textDocuments.filter((d) => d.isDirty && wanted.has(d.uri.toString()));
}

/**
 * Resolves true when nothing unsaved is in the way of writing `relPaths`: either no editor is dirty, or the user
 * chose to discard those unsaved edits (they are reverted to the disk content first). False means: do not write.
 */
export async function settleDirtyEditors(prompts: Prompts, workspace: string, relPaths: Iterable<string>, action: string): Promise<boolean> {
  const dirty = dirtyDocuments(workspace, relPaths);
  if (dirty.length === 0) return true;
  const names = dirty.map((d) => vscode.workspace.asRelativePath(d.uri, false));
  const answer = await prompts.ask({
    message: `${names.length === 1 ? `${names[0]} has` : `${names.length} files have`} unsaved edits in the editor. ${action} would write ${names.length === 1 ? 'it' : 'them'} on disk.`,
    detail: `${names.join('\n')}\n\nSave or revert ${names.length === 1 ? 'it' : 'them'} first, or discard the unsaved edits and continue.`,
    choices: [dirtyChoices.discard, dirtyChoices.cancel],
  });
  if (answer !== dirtyChoices.discard) return false;
  for (const doc of dirty) {
    // Reverting is per editor in VS Code: show the document, revert it, leave the editor open.
    await vscode.window.showTextDocument(doc, { preview: false, preserveFocus: false });
    await vscode.commands.executeCommand('workbench.action.files.revert');
  }
  return dirtyDocuments(workspace, relPaths).length === 0;
}

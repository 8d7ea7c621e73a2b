// The extension under test and the workspace the runner opened, for every integration spec.
import * as assert from 'node:assert/strict';
import * as vscode from 'vscode';
import type { AirlockApi } from '../../src/vscode/extension';

export const extensionId = 'agent-airlock.agent-airlock';

/** The Airlock extension as VS Code loaded it (from source or from the installed .vsix). */
export function airlockExtension(): vscode.Extension<AirlockApi> {
  const found = vscode.extensions.getExtension<AirlockApi>(extensionId);
  assert.ok(found, `extension ${extensionId} is not loaded`);
  return found;
}

/** Activates the extension if it is not yet, and returns its API. */
export function activateAirlock(): Thenable<AirlockApi> {
  return airlockExtension().activate();
}

/** The first workspace folder: the runner opens a copy of examples/demo. */
export function workspaceRoot(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  assert.ok(folder, 'the runner opens a copy of examples/demo as the workspace');
  return folder.uri.fsPath;
}

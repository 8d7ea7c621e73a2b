// `Airlock: Open Policy`: opens the workspace's `.airlock/policy.json`, writing a commented starter policy
// first when there is none (the editor then offers completion and checks it against the policy schema).
import * as vscode from 'vscode';
import { starterPolicyText } from './starterPolicy';

export async function openPolicy(log: vscode.LogOutputChannel): Promise<vscode.Uri | undefined> {
  const folders = vscode.workspace.workspaceFolders ?? [];
  const folder = folders.length <= 1 ? folders[0] : await vscode.window.showWorkspaceFolderPick({ placeHolder: 'Which folder’s policy?' });
  if (!folder) {
    if (folders.length === 0) void vscode.window.showInformationMessage('Open a folder first: an Airlock policy belongs to a workspace folder (.airlock/policy.json).');
    return undefined;
  }
  const uri = vscode.Uri.joinPath(folder.uri, '.airlock', 'policy.json');
  if (!(await exists(uri))) {
    await vscode.workspace.fs.createDirectory(vscode.Uri.joinPath(folder.uri, '.airlock'));
    await vscode.workspace.fs.writeFile(uri, new TextEncoder().encode(starterPolicyText));
    log.info(`created a starter policy at ${uri.fsPath}`);
    void vscode.window.showInformationMessage('Created a starter policy with the built-in defaults spelled out. Edit it to change what agents may do here.');
  }
  await vscode.window.showTextDocument(uri, { preview: false });
  return uri;
}

async function exists(uri: vscode.Uri): Promise<boolean> {
  try {
    await vscode.workspace.fs.stat(uri);
    return true;
  } catch {
    return false;
  }
}
